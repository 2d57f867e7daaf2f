package layers

import (
	"github.com/chewxy/hm"
	"github.com/pkg/errors"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// linearOp is y = x W^T + b with x (B,in), W (out,in) stored as PyTorch
// stores it, and b (out).
type linearOp struct {
	opBase
	ws workspace
}

func (op *linearOp) Arity() int         { return 3 }
func (op *linearOp) Type() hm.Type      { return fnType(2, 2, 1, 2) }
func (op *linearOp) DiffWRT(int) []bool { return []bool{true, true, true} }
func (op *linearOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapes(op.name, in, 2, 2, 1)
	if err != nil {
		return nil, err
	}
	x, w, b := s[0], s[1], s[2]
	if x[1] != w[1] || w[0] != b[0] {
		return nil, errors.Errorf("%s: input %v, weight %v and bias %v do not fit", op.name, x, w, b)
	}
	return tensor.Shape{x[0], w[0]}, nil
}

func (op *linearOp) Do(in ...G.Value) (G.Value, error) {
	defer op.timed()()
	ts, dt, err := dense(op.name, in)
	if err != nil {
		return nil, err
	}
	shape, err := op.InferShape(ts[0].Shape(), ts[1].Shape(), ts[2].Shape())
	if err != nil {
		return nil, err
	}
	out := op.ws.output(0, dt, shape)
	if dt == tensor.Float32 {
		linearForward[float32](ts[0], ts[1], ts[2], out)
	} else {
		linearForward[float64](ts[0], ts[1], ts[2], out)
	}
	return out, nil
}

func linearForward[T float](xt, wt, bt, yt *tensor.Dense) {
	nb, nin, nout := xt.Shape()[0], xt.Shape()[1], wt.Shape()[0]
	b, y := data[T](bt), data[T](yt)
	for i := 0; i < nb; i++ {
		copy(y[i*nout:(i+1)*nout], b)
	}
	gemm(false, true, nb, nout, nin, data[T](xt), nin, data[T](wt), nin, 1, y, nout)
}

func (op *linearOp) SymDiff(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	var out G.Nodes
	for want := range 3 {
		d, err := G.ApplyOp(&linearGrad{opBase: newOpBase(op.name + "Grad"), want: want}, in[0], in[1], grad)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// linearGrad computes the gradient for input want: 0 x, 1 W, 2 b.
type linearGrad struct {
	opBase
	want int
	ws   workspace
}

func (op *linearGrad) Arity() int { return 3 } // x, W, dy
func (op *linearGrad) Type() hm.Type {
	if op.want == 2 {
		return fnType(2, 2, 2, 1)
	}
	return fnType(2, 2, 2, 2)
}
func (op *linearGrad) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapes(op.name, in, 2, 2, 2)
	if err != nil {
		return nil, err
	}
	if op.want == 2 {
		return tensor.Shape{s[1][0]}, nil
	}
	return s[op.want].Clone(), nil
}

func (op *linearGrad) Do(in ...G.Value) (G.Value, error) {
	defer op.timed()()
	ts, dt, err := dense(op.name, in)
	if err != nil {
		return nil, err
	}
	shape, err := op.InferShape(ts[0].Shape(), ts[1].Shape(), ts[2].Shape())
	if err != nil {
		return nil, err
	}
	out := op.ws.output(0, dt, shape)
	if dt == tensor.Float32 {
		linearBackward[float32](op.want, ts[0], ts[1], ts[2], out)
	} else {
		linearBackward[float64](op.want, ts[0], ts[1], ts[2], out)
	}
	return out, nil
}

func linearBackward[T float](want int, xt, wt, dyt, outt *tensor.Dense) {
	nb, nin, nout := xt.Shape()[0], xt.Shape()[1], wt.Shape()[0]
	x, w, dy, out := data[T](xt), data[T](wt), data[T](dyt), data[T](outt)
	switch want {
	case 0: // dx = dy W
		gemm(false, false, nb, nin, nout, dy, nout, w, nin, 0, out, nin)
	case 1: // dW = dy^T x
		gemm(true, false, nout, nin, nb, dy, nout, x, nin, 0, out, nin)
	default: // db = column sums of dy
		clear(out)
		for i := 0; i < nb; i++ {
			for j, v := range dy[i*nout : (i+1)*nout] {
				out[j] += v
			}
		}
	}
}
