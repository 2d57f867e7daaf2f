package layers

import (
	"github.com/chewxy/hm"
	"github.com/pkg/errors"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// poolGeom is a square max pooling window: size k, stride and zero-free
// padding (padded positions never win), as torch.nn.MaxPool2d.
type poolGeom struct{ k, stride, pad int }

func (p poolGeom) out(n int) int { return (n+2*p.pad-p.k)/p.stride + 1 }

// maxPoolOp is k x k max pooling over each plane of (N,C,H,W). Gorgonia's
// own MaxPool2D is single-threaded, allocates its output and an argmax mask
// every step, and panics in the backward pass on NaN input; this one
// reuses its buffers, splits the planes over the workers and, like PyTorch,
// lets a NaN win its window so that it propagates.
type maxPoolOp struct {
	opBase
	poolGeom
	ws workspace
}

func (op *maxPoolOp) Arity() int         { return 1 }
func (op *maxPoolOp) Type() hm.Type      { return fnType(4, 4) }
func (op *maxPoolOp) DiffWRT(int) []bool { return []bool{true} }
func (op *maxPoolOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapes(op.name, in, 4)
	if err != nil {
		return nil, err
	}
	x := s[0]
	ho, wo := op.out(x[2]), op.out(x[3])
	if ho <= 0 || wo <= 0 {
		return nil, errors.Errorf("%s: a %dx%d window does not fit a %dx%d input padded by %d", op.name, op.k, op.k, x[2], x[3], op.pad)
	}
	return tensor.Shape{x[0], x[1], ho, wo}, nil
}

func (op *maxPoolOp) Do(in ...G.Value) (G.Value, error) {
	ts, dt, err := dense(op.name, in)
	if err != nil {
		return nil, err
	}
	shape, err := op.InferShape(ts[0].Shape())
	if err != nil {
		return nil, err
	}
	out := op.ws.output(0, dt, shape)
	if dt == tensor.Float32 {
		maxPool(op.poolGeom, data[float32](ts[0]), ts[0].Shape(), data[float32](out), nil)
	} else {
		maxPool(op.poolGeom, data[float64](ts[0]), ts[0].Shape(), data[float64](out), nil)
	}
	return out, nil
}

func (op *maxPoolOp) SymDiff(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	dx, err := G.ApplyOp(&maxPoolGrad{opBase: newOpBase(op.name + "Grad"), fwd: op}, in[0], grad)
	return G.Nodes{dx}, err
}

// maxPoolGrad routes each window's gradient to the input that won it, found
// again from the input rather than stored by the forward pass, so the op
// keeps no state between the two.
type maxPoolGrad struct {
	opBase
	fwd *maxPoolOp
	ws  workspace
}

func (op *maxPoolGrad) Arity() int    { return 2 } // x, dy
func (op *maxPoolGrad) Type() hm.Type { return fnType(4, 4, 4) }
func (op *maxPoolGrad) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapes(op.name, in, 4, 4)
	if err != nil {
		return nil, err
	}
	return s[0].Clone(), nil
}

func (op *maxPoolGrad) Do(in ...G.Value) (G.Value, error) {
	ts, dt, err := dense(op.name, in)
	if err != nil {
		return nil, err
	}
	out := op.ws.output(0, dt, ts[0].Shape())
	if dt == tensor.Float32 {
		maxPool(op.fwd.poolGeom, data[float32](ts[0]), ts[0].Shape(), data[float32](ts[1]), data[float32](out))
	} else {
		maxPool(op.fwd.poolGeom, data[float64](ts[0]), ts[0].Shape(), data[float64](ts[1]), data[float64](out))
	}
	return out, nil
}

// maxPool pools x (N,C,H,W) into y, or, when dx is given, reads y as the
// output's gradient and adds each element to dx at its window's winner (the
// first maximum, or the first NaN), zeros elsewhere.
func maxPool[T float](p poolGeom, x []T, xs tensor.Shape, y, dx []T) {
	h, w := xs[2], xs[3]
	ho, wo := p.out(h), p.out(w)
	parallel(xs[0]*xs[1], func(_, lo, hi int) {
		for plane := lo; plane < hi; plane++ {
			xp := x[plane*h*w:][:h*w]
			yp := y[plane*ho*wo:][:ho*wo]
			var dxp []T
			if dx != nil {
				dxp = dx[plane*h*w:][:h*w]
				clear(dxp)
			}
			for oy := 0; oy < ho; oy++ {
				y0 := oy*p.stride - p.pad
				ylo, yhi := max(y0, 0), min(y0+p.k, h)
				for ox := 0; ox < wo; ox++ {
					x0 := ox*p.stride - p.pad
					xlo, xhi := max(x0, 0), min(x0+p.k, w)
					best := ylo*w + xlo
					for iy := ylo; iy < yhi; iy++ {
						for ix, v := range xp[iy*w+xlo : iy*w+xhi] {
							if v > xp[best] || (v != v && xp[best] == xp[best]) {
								best = iy*w + xlo + ix
							}
						}
					}
					if dxp != nil {
						dxp[best] += yp[oy*wo+ox]
					} else {
						yp[oy*wo+ox] = xp[best]
					}
				}
			}
		}
	})
}
