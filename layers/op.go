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

// data returns a tensor's backing slice as []T.
func data[T float](t *tensor.Dense) []T { return t.Data().([]T) }
