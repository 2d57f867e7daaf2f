package train

import "github.com/gorgonia-zoo/resnet/internal/parallel"

// SGD is PyTorch's torch.optim.SGD with momentum and weight decay (no
// dampening, no Nesterov), in float32 like PyTorch on float32 parameters:
//
//	d = g + wd*w
//	b = mu*b + d      (b = d on the first step)
//	w = w - lr*b
//
// Weight decay is applied to every parameter it is given; the trainer gives
// it every learnable, BN gamma and beta and the fc bias included, as
// PyTorch's default parameter groups do.
type SGD struct {
	Momentum    float32 // mu
	WeightDecay float32 // wd
	// Bufs holds each parameter's momentum buffer, in the parameters' order.
	Bufs [][]float32
	// Started is false until the first step: the first step sets b = d.
	Started bool
}

// NewSGD returns an optimizer for parameters of the given sizes.
func NewSGD(sizes []int, momentum, weightDecay float64) *SGD {
	o := &SGD{Momentum: float32(momentum), WeightDecay: float32(weightDecay)}
	for _, n := range sizes {
		o.Bufs = append(o.Bufs, make([]float32, n))
	}
	return o
}

// Step updates every parameter w[i] with its gradient g[i] at learning
// rate lr, on all cores: the parameters are cut as one run of values.
func (o *SGD) Step(w, g [][]float32, lr float64) {
	lr32, mu, wd, first := float32(lr), o.Momentum, o.WeightDecay, !o.Started
	total := 0
	for _, wi := range w {
		total += len(wi)
	}
	parallel.For(total, func(_, lo, hi int) {
		at := 0 // where w[i] starts in the run
		for i := range w {
			n := len(w[i])
			if at < hi && at+n > lo {
				a, b := max(lo-at, 0), min(hi-at, n)
				step(w[i][a:b], g[i][a:b], o.Bufs[i][a:b], lr32, mu, wd, first)
			}
			at += n
		}
	})
	o.Started = true
}

// step updates the weights wi with their gradients gi and momentum
// buffers bi; first sets b = d.
func step(wi, gi, bi []float32, lr, mu, wd float32, first bool) {
	gi, bi = gi[:len(wi)], bi[:len(wi)]
	if first {
		for j := range wi {
			d := gi[j] + wd*wi[j]
			bi[j] = d
			wi[j] -= lr * d
		}
		return
	}
	for j := range wi {
		d := gi[j] + wd*wi[j]
		b := mu*bi[j] + d
		bi[j] = b
		wi[j] -= lr * b
	}
}
