package layers

import (
	"math"

	"github.com/chewxy/hm"
	"github.com/pkg/errors"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// softmaxCrossEntropyOp is the mean over the batch of -sum_k t_k log softmax(z)_k
// for logits z (B,K) and target distributions t (B,K), as PyTorch's
// cross_entropy with reduction "mean". Each row is shifted by its own
// maximum, so any finite logits give a finite loss.
type softmaxCrossEntropyOp struct{ opBase }

func (op *softmaxCrossEntropyOp) Arity() int         { return 2 }
func (op *softmaxCrossEntropyOp) Type() hm.Type      { return fnType(2, 2, 0) }
func (op *softmaxCrossEntropyOp) DiffWRT(int) []bool { return []bool{true, false} }
func (op *softmaxCrossEntropyOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapes(op.name, in, 2, 2)
	if err != nil {
		return nil, err
	}
	if !s[0].Eq(s[1]) {
		return nil, errors.Errorf("%s: logits %v and targets %v differ in shape", op.name, s[0], s[1])
	}
	return tensor.ScalarShape(), nil
}

func (op *softmaxCrossEntropyOp) Do(in ...G.Value) (G.Value, error) {
	defer op.timed()()
	ts, dt, err := dense(op.name, in)
	if err != nil {
		return nil, err
	}
	if dt == tensor.Float32 {
		return G.NewF32(float32(crossEntropy[float32](ts[0], ts[1], nil))), nil
	}
	return G.NewF64(crossEntropy[float64](ts[0], ts[1], nil)), nil
}

// crossEntropy returns the mean loss; with grad non-nil it also writes
// d loss / d logits = (softmax(z) * sum(t) - t) / B into it.
func crossEntropy[T float](zt, tt *tensor.Dense, grad []T) float64 {
	b, k := zt.Shape()[0], zt.Shape()[1]
	z, t := data[T](zt), data[T](tt)
	var loss float64
	for i := 0; i < b; i++ {
		zi, ti := z[i*k:(i+1)*k], t[i*k:(i+1)*k]
		top := math.Inf(-1)
		for _, v := range zi {
			top = math.Max(top, float64(v))
		}
		var sumExp, sumT float64
		for _, v := range zi {
			sumExp += math.Exp(float64(v) - top)
		}
		logSumExp := top + math.Log(sumExp)
		for j, v := range zi {
			loss -= float64(ti[j]) * (float64(v) - logSumExp)
			sumT += float64(ti[j])
		}
		if grad != nil {
			gi := grad[i*k : (i+1)*k]
			for j, v := range zi {
				gi[j] = T((math.Exp(float64(v)-logSumExp)*sumT - float64(ti[j])) / float64(b))
			}
		}
	}
	return loss / float64(b)
}

func (op *softmaxCrossEntropyOp) SymDiff(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	dz, err := G.ApplyOp(&crossEntropyGrad{opBase: newOpBase(op.name + "Grad")}, in[0], in[1], grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{dz, nil}, nil
}

// crossEntropyGrad is d loss / d logits scaled by the incoming scalar gradient.
type crossEntropyGrad struct {
	opBase
	ws workspace
}

func (op *crossEntropyGrad) Arity() int    { return 3 } // logits, targets, dloss
func (op *crossEntropyGrad) Type() hm.Type { return fnType(2, 2, 0, 2) }
func (op *crossEntropyGrad) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapes(op.name, in, 2, 2, -1)
	if err != nil {
		return nil, err
	}
	return s[0].Clone(), nil
}

func (op *crossEntropyGrad) Do(in ...G.Value) (G.Value, error) {
	defer op.timed()()
	ts, dt, err := dense(op.name, in[:2])
	if err != nil {
		return nil, err
	}
	scale, err := ScalarValue(in[2])
	if err != nil {
		return nil, errors.Wrap(err, op.name)
	}
	out := op.ws.output(0, dt, ts[0].Shape())
	if dt == tensor.Float32 {
		g := data[float32](out)
		crossEntropy(ts[0], ts[1], g)
		for i := range g {
			g[i] *= float32(scale)
		}
	} else {
		g := data[float64](out)
		crossEntropy(ts[0], ts[1], g)
		for i := range g {
			g[i] *= scale
		}
	}
	return out, nil
}

// ScalarValue reads a float scalar Value (a loss), whatever its float type.
func ScalarValue(v G.Value) (float64, error) {
	switch s := v.(type) {
	case *G.F32:
		return float64(*s), nil
	case *G.F64:
		return float64(*s), nil
	case *tensor.Dense:
		if s.Shape().TotalSize() == 1 {
			switch d := s.Data().(type) {
			case float32:
				return float64(d), nil
			case float64:
				return d, nil
			case []float32:
				return float64(d[0]), nil
			case []float64:
				return d[0], nil
			}
		}
	}
	return 0, errors.Errorf("want a float scalar, got %T %v", v, v.Shape())
}
