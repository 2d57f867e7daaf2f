package layers

import (
	"math"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// batchNormOp normalizes x (N,C,H,W) per channel and applies gamma and beta
// (C) inside the op, so no broadcast copies are made. In training mode it
// uses the batch statistics and updates the running ones in place (PyTorch's
// conventions: biased variance to normalize, unbiased in the running
// variance, running = (1-momentum)*running + momentum*batch); in evaluation
// mode it uses the running statistics. The Mode is read at every run.
type batchNormOp struct {
	opBase
	mode              *Mode
	momentum, eps     float64
	runMean, runVar   *tensor.Dense // (C), the model's dtype
	numBatchesTracked *tensor.Dense // int64 scalar
	relu              bool          // apply ReLU to the output
	// What the last forward pass normalized with, for the backward ops.
	mean, invStd []float64
	batchStats   bool
	ws           workspace
}

func (op *batchNormOp) Arity() int         { return 3 } // x, gamma, beta
func (op *batchNormOp) Type() hm.Type      { return fnType(4, 1, 1, 4) }
func (op *batchNormOp) DiffWRT(int) []bool { return []bool{true, true, true} }
func (op *batchNormOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapes(op.name, in, 4, 1, 1)
	if err != nil {
		return nil, err
	}
	return s[0].Clone(), nil
}

func (op *batchNormOp) Do(in ...G.Value) (G.Value, error) {
	ts, dt, err := dense(op.name, in)
	if err != nil {
		return nil, err
	}
	out := op.ws.output(0, dt, ts[0].Shape())
	if dt == tensor.Float32 {
		bnForward[float32](op, ts[0], ts[1], ts[2], out)
	} else {
		bnForward[float64](op, ts[0], ts[1], ts[2], out)
	}
	return out, nil
}

// channel returns the elements of channel c of image i in NCHW data.
func channel[T float](x []T, i, c, nc, hw int) []T {
	return x[(i*nc+c)*hw : (i*nc+c+1)*hw]
}

func bnForward[T float](op *batchNormOp, xt, gt, bt, outt *tensor.Dense) {
	s := xt.Shape()
	n, nc, hw := s[0], s[1], s[2]*s[3]
	m := float64(n * hw)
	x, gamma, beta, out := data[T](xt), data[T](gt), data[T](bt), data[T](outt)
	if len(op.mean) != nc {
		op.mean, op.invStd = make([]float64, nc), make([]float64, nc)
	}
	training := op.mode.Training()
	runMean, runVar := data[T](op.runMean), data[T](op.runVar)
	parallel(nc, func(_, lo, hi int) {
		for c := lo; c < hi; c++ {
			mean, variance := float64(runMean[c]), float64(runVar[c])
			if training {
				var sum float64
				for i := 0; i < n; i++ {
					for _, v := range channel(x, i, c, nc, hw) {
						sum += float64(v)
					}
				}
				mean = sum / m
				var sq float64
				for i := 0; i < n; i++ {
					for _, v := range channel(x, i, c, nc, hw) {
						d := float64(v) - mean
						sq += d * d
					}
				}
				variance = sq / m
				unbiased := variance
				if m > 1 {
					unbiased = sq / (m - 1)
				}
				runMean[c] = T((1-op.momentum)*float64(runMean[c]) + op.momentum*mean)
				runVar[c] = T((1-op.momentum)*float64(runVar[c]) + op.momentum*unbiased)
			}
			invStd := 1 / math.Sqrt(variance+op.eps)
			op.mean[c], op.invStd[c] = mean, invStd
			scale := T(float64(gamma[c]) * invStd)
			shift := T(float64(beta[c]) - mean*float64(gamma[c])*invStd)
			for i := 0; i < n; i++ {
				dst := channel(out, i, c, nc, hw)
				for j, v := range channel(x, i, c, nc, hw) {
					y := v*scale + shift
					if op.relu && y < 0 {
						y = 0
					}
					dst[j] = y
				}
			}
		}
	})
	op.batchStats = training
	if training {
		op.numBatchesTracked.Set(0, op.numBatchesTracked.Get(0).(int64)+1)
	}
}

func (op *batchNormOp) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	// With a fused ReLU the backward ops need the output to mask dy.
	dx, err := G.ApplyOp(&bnGrad{opBase: newOpBase(op.name + "GradInput"), fwd: op, want: bnWantInput}, in[0], in[1], out, grad)
	if err != nil {
		return nil, err
	}
	dgamma, err := G.ApplyOp(&bnGrad{opBase: newOpBase(op.name + "GradGamma"), fwd: op, want: bnWantGamma}, in[0], in[1], out, grad)
	if err != nil {
		return nil, err
	}
	dbeta, err := G.ApplyOp(&bnGrad{opBase: newOpBase(op.name + "GradBeta"), fwd: op, want: bnWantBeta}, in[0], in[1], out, grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{dx, dgamma, dbeta}, nil
}

// Which gradient a bnGrad computes.
const (
	bnWantInput = iota
	bnWantGamma
	bnWantBeta
)

// bnGrad computes one of batch norm's three gradients from x, gamma, the
// forward output y (for the ReLU mask) and dy, using the statistics the
// forward pass saved.
type bnGrad struct {
	opBase
	fwd  *batchNormOp
	want int
	ws   workspace
}

func (op *bnGrad) Arity() int { return 4 }
func (op *bnGrad) Type() hm.Type {
	if op.want == bnWantInput {
		return fnType(4, 1, 4, 4, 4)
	}
	return fnType(4, 1, 4, 4, 1)
}
func (op *bnGrad) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapes(op.name, in, 4, 1, 4, 4)
	if err != nil {
		return nil, err
	}
	if op.want == bnWantInput {
		return s[0].Clone(), nil
	}
	return s[1].Clone(), nil
}

func (op *bnGrad) Do(in ...G.Value) (G.Value, error) {
	ts, dt, err := dense(op.name, in)
	if err != nil {
		return nil, err
	}
	shape := ts[1].Shape()
	if op.want == bnWantInput {
		shape = ts[0].Shape()
	}
	out := op.ws.output(0, dt, shape)
	if dt == tensor.Float32 {
		bnBackward[float32](op, ts[0], ts[1], ts[2], ts[3], out)
	} else {
		bnBackward[float64](op, ts[0], ts[1], ts[2], ts[3], out)
	}
	return out, nil
}

func bnBackward[T float](op *bnGrad, xt, gt, yt, dyt, outt *tensor.Dense) {
	s := xt.Shape()
	n, nc, hw := s[0], s[1], s[2]*s[3]
	m := float64(n * hw)
	x, gamma, y, dy, out := data[T](xt), data[T](gt), data[T](yt), data[T](dyt), data[T](outt)
	fwd := op.fwd
	batchStats := fwd.batchStats
	// dyAt is dy masked by the fused ReLU: zero where the output was clipped.
	dyAt := func(dyc, yc []T, j int) float64 {
		if fwd.relu && yc[j] <= 0 {
			return 0
		}
		return float64(dyc[j])
	}
	parallel(nc, func(_, lo, hi int) {
		for c := lo; c < hi; c++ {
			mean, invStd := fwd.mean[c], fwd.invStd[c]
			var sumDy, sumDyXhat float64
			for i := 0; i < n; i++ {
				xc, yc, dyc := channel(x, i, c, nc, hw), channel(y, i, c, nc, hw), channel(dy, i, c, nc, hw)
				for j, v := range xc {
					g := dyAt(dyc, yc, j)
					sumDy += g
					sumDyXhat += g * (float64(v) - mean) * invStd
				}
			}
			switch op.want {
			case bnWantGamma:
				out[c] = T(sumDyXhat)
				continue
			case bnWantBeta:
				out[c] = T(sumDy)
				continue
			}
			k := float64(gamma[c]) * invStd
			for i := 0; i < n; i++ {
				xc, yc, dyc, dxc := channel(x, i, c, nc, hw), channel(y, i, c, nc, hw), channel(dy, i, c, nc, hw), channel(out, i, c, nc, hw)
				for j, v := range xc {
					g := dyAt(dyc, yc, j)
					if batchStats {
						xhat := (float64(v) - mean) * invStd
						g -= (sumDy + xhat*sumDyXhat) / m
					}
					dxc[j] = T(k * g)
				}
			}
		}
	})
}
