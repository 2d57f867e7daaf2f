package layers

import (
	"github.com/chewxy/hm"
	"github.com/gorgonia-zoo/resnet/internal/parallel"
	"github.com/gorgonia-zoo/resnet/internal/vec"
	"github.com/pkg/errors"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// reluOp is max(x, 0), or max(x+y, 0) with two inputs: the residual
// addition fused with the block's final ReLU.
type reluOp struct {
	opBase
	arity int
	ws    workspace
}

func (op *reluOp) Arity() int { return op.arity }
func (op *reluOp) Type() hm.Type {
	if op.arity == 2 {
		return fnType(4, 4, 4)
	}
	return fnType(4, 4)
}
func (op *reluOp) DiffWRT(n int) []bool {
	d := make([]bool, n)
	for i := range d {
		d[i] = true
	}
	return d
}
func (op *reluOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	ranks := []int{4, 4}[:op.arity]
	s, err := shapes(op.name, in, ranks...)
	if err != nil {
		return nil, err
	}
	if op.arity == 2 && !s[0].Eq(s[1]) {
		return nil, errors.Errorf("%s: cannot add shapes %v and %v", op.name, s[0], s[1])
	}
	return s[0].Clone(), nil
}

func (op *reluOp) Do(in ...G.Value) (G.Value, error) {
	defer op.timed()()
	ts, dt, err := dense(op.name, in)
	if err != nil {
		return nil, err
	}
	out := op.ws.output(0, dt, ts[0].Shape())
	if dt == tensor.Float32 {
		reluForward(op, ts, data[float32](out))
	} else {
		reluForward(op, ts, data[float64](out))
	}
	return out, nil
}

func reluForward[T float](op *reluOp, in []*tensor.Dense, y []T) {
	a := data[T](in[0])
	if op.arity == 2 {
		b := data[T](in[1])
		parallel.For(len(y), func(_, lo, hi int) { vec.AddReLU(y[lo:hi], a[lo:hi], b[lo:hi]) })
		return
	}
	parallel.For(len(y), func(_, lo, hi int) { vec.ReLU(y[lo:hi], a[lo:hi]) })
}

func (op *reluOp) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	d, err := G.ApplyOp(&reluGrad{opBase: newOpBase(op.name + "Grad")}, out, grad)
	if err != nil {
		return nil, err
	}
	if op.arity == 2 {
		return G.Nodes{d, d}, nil
	}
	return G.Nodes{d}, nil
}

// reluGrad passes dy where the ReLU's output y is positive.
type reluGrad struct {
	opBase
	ws workspace
}

func (op *reluGrad) Arity() int    { return 2 } // y, dy
func (op *reluGrad) Type() hm.Type { return fnType(4, 4, 4) }
func (op *reluGrad) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapes(op.name, in, 4, 4)
	if err != nil {
		return nil, err
	}
	return s[0].Clone(), nil
}

func (op *reluGrad) Do(in ...G.Value) (G.Value, error) {
	defer op.timed()()
	ts, dt, err := dense(op.name, in)
	if err != nil {
		return nil, err
	}
	out := op.ws.output(0, dt, ts[0].Shape())
	if dt == tensor.Float32 {
		maskPositive(data[float32](ts[0]), data[float32](ts[1]), data[float32](out))
	} else {
		maskPositive(data[float64](ts[0]), data[float64](ts[1]), data[float64](out))
	}
	return out, nil
}

func maskPositive[T float](y, dy, dx []T) {
	parallel.For(len(dx), func(_, lo, hi int) {
		vec.KeepPositive(dx[lo:hi], y[lo:hi], dy[lo:hi])
	})
}
