package layers

import (
	"fmt"
	"hash"
	"hash/fnv"
	"sync/atomic"

	"github.com/chewxy/hm"
	"github.com/pkg/errors"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// lastOpID numbers op instances. Gorgonia hash-conses nodes by op hash and
// children, so two instances must never hash alike: each carries its own id.
var lastOpID atomic.Int64

// opBase holds what every custom op of this package shares: a unique id and a
// printable name, and the answers Gorgonia's compiler asks for.
type opBase struct {
	id   int64
	name string
}

func newOpBase(name string) opBase { return opBase{id: lastOpID.Add(1), name: name} }

func (o opBase) ReturnsPtr() bool      { return false }
func (o opBase) CallsExtern() bool     { return false }
func (o opBase) OverwritesInput() int  { return -1 }
func (o opBase) WriteHash(h hash.Hash) { fmt.Fprintf(h, "%s#%d", o.name, o.id) }
func (o opBase) String() string        { return o.name }
func (o opBase) Hashcode() uint32 {
	h := fnv.New32a()
	o.WriteHash(h)
	return h.Sum32()
}

// fnType builds the hm type of an op from tensor ranks; rank 0 is a scalar.
func fnType(ranks ...int) hm.Type {
	a := hm.TypeVariable('a')
	ts := make([]hm.Type, len(ranks))
	for i, r := range ranks {
		if r == 0 {
			ts[i] = a
		} else {
			ts[i] = G.TensorType{Dims: r, Of: a}
		}
	}
	return hm.NewFnType(ts...)
}

// shapes converts InferShape's arguments, checking their ranks.
func shapes(op string, in []G.DimSizer, ranks ...int) ([]tensor.Shape, error) {
	if len(in) != len(ranks) {
		return nil, errors.Errorf("%s: %d inputs, want %d", op, len(in), len(ranks))
	}
	out := make([]tensor.Shape, len(in))
	for i, d := range in {
		s, ok := d.(tensor.Shape)
		if !ok {
			return nil, errors.Errorf("%s: input %d has no shape", op, i)
		}
		if ranks[i] >= 0 && s.Dims() != ranks[i] {
			return nil, errors.Errorf("%s: input %d has shape %v, want %d dimensions", op, i, s, ranks[i])
		}
		out[i] = s
	}
	return out, nil
}

// dense checks that every value is a *tensor.Dense of one float dtype.
func dense(op string, vs []G.Value) ([]*tensor.Dense, tensor.Dtype, error) {
	ts := make([]*tensor.Dense, len(vs))
	var dt tensor.Dtype
	for i, v := range vs {
		t, ok := v.(*tensor.Dense)
		if !ok {
			return nil, dt, errors.Errorf("%s: input %d is %T, want *tensor.Dense", op, i, v)
		}
		if i == 0 {
			dt = t.Dtype()
			if dt != tensor.Float32 && dt != tensor.Float64 {
				return nil, dt, errors.Errorf("%s: dtype %v, want float32 or float64", op, dt)
			}
		} else if t.Dtype() != dt {
			return nil, dt, errors.Errorf("%s: input %d is %v, input 0 is %v", op, i, t.Dtype(), dt)
		}
		ts[i] = t
	}
	return ts, dt, nil
}

// data returns a tensor's backing slice as []T, through the typed
// accessors: Dense.Data builds the slice by reflection, two allocations per
// call, and the ops call it a few hundred times a step.
func data[T float](t *tensor.Dense) []T {
	var s []T
	switch p := any(&s).(type) {
	case *[]float32:
		if t.Dtype() == tensor.Float32 {
			*p = t.Float32s()
			return s
		}
	case *[]float64:
		if t.Dtype() == tensor.Float64 {
			*p = t.Float64s()
			return s
		}
	}
	panic(fmt.Sprintf("layers: %v tensor read as %T", t.Dtype(), s))
}

// planeOp is a parameter-free op on one 4-d input x (pooling, the option-A
// shortcut): shape gives the output's shape from x's, forward computes the
// output y, and backward the gradient dx of x from x and y's gradient dy.
// Output buffers are reused across steps.
type planeOp struct {
	opBase
	outRank  int
	shape    func(x tensor.Shape) (tensor.Shape, error)
	forward  func(x, y *tensor.Dense)
	backward func(x, dy, dx *tensor.Dense)
	ws       workspace
}

func (op *planeOp) Arity() int         { return 1 }
func (op *planeOp) Type() hm.Type      { return fnType(4, op.outRank) }
func (op *planeOp) DiffWRT(int) []bool { return []bool{true} }
func (op *planeOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapes(op.name, in, 4)
	if err != nil {
		return nil, err
	}
	return op.shape(s[0])
}

func (op *planeOp) Do(in ...G.Value) (G.Value, error) {
	defer op.timed()()
	ts, dt, err := dense(op.name, in)
	if err != nil {
		return nil, err
	}
	shape, err := op.shape(ts[0].Shape())
	if err != nil {
		return nil, err
	}
	out := op.ws.output(0, dt, shape)
	op.forward(ts[0], out)
	return out, nil
}

func (op *planeOp) SymDiff(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	dx, err := G.ApplyOp(&planeGrad{opBase: newOpBase(op.name + "Grad"), fwd: op}, in[0], grad)
	return G.Nodes{dx}, err
}

// planeGrad is a planeOp's backward op: (x, dy) -> dx.
type planeGrad struct {
	opBase
	fwd *planeOp
	ws  workspace
}

func (op *planeGrad) Arity() int    { return 2 } // x, dy
func (op *planeGrad) Type() hm.Type { return fnType(4, op.fwd.outRank, 4) }
func (op *planeGrad) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapes(op.name, in, 4, op.fwd.outRank)
	if err != nil {
		return nil, err
	}
	return s[0].Clone(), nil
}

func (op *planeGrad) Do(in ...G.Value) (G.Value, error) {
	defer op.timed()()
	ts, dt, err := dense(op.name, in)
	if err != nil {
		return nil, err
	}
	out := op.ws.output(0, dt, ts[0].Shape())
	op.fwd.backward(ts[0], ts[1], out)
	return out, nil
}
