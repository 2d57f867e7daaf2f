package train

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

// Step updates every parameter w[i] with its gradient g[i] at learning rate lr.
func (o *SGD) Step(w, g [][]float32, lr float64) {
	lr32, mu, wd := float32(lr), o.Momentum, o.WeightDecay
	for i := range w {
		wi, gi, bi := w[i], g[i][:len(w[i])], o.Bufs[i][:len(w[i])]
		if !o.Started {
			for j := range wi {
				d := gi[j] + wd*wi[j]
				bi[j] = d
				wi[j] -= lr32 * d
			}
			continue
		}
		for j := range wi {
			d := gi[j] + wd*wi[j]
			b := mu*bi[j] + d
			bi[j] = b
			wi[j] -= lr32 * b
		}
	}
	o.Started = true
}
