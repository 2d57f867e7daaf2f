package layers

import (
	"github.com/chewxy/hm"
	"github.com/pkg/errors"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// shortcutAOp is the paper's option-A shortcut: keep every stride-th row and
// column and zero-pad the channels evenly on both sides, so (N,Cin,H,W)
// becomes (N,Cout,ceil(H/stride),ceil(W/stride)). It has no parameters.
type shortcutAOp struct {
	opBase
	cout, stride int
	ws           workspace
}

func (op *shortcutAOp) Arity() int         { return 1 }
func (op *shortcutAOp) Type() hm.Type      { return fnType(4, 4) }
func (op *shortcutAOp) DiffWRT(int) []bool { return []bool{true} }
func (op *shortcutAOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapes(op.name, in, 4)
	if err != nil {
		return nil, err
	}
	x := s[0]
	if op.cout < x[1] || (op.cout-x[1])%2 != 0 {
		return nil, errors.Errorf("%s: cannot pad %d channels evenly to %d", op.name, x[1], op.cout)
	}
	return tensor.Shape{x[0], op.cout, ceilDiv(x[2], op.stride), ceilDiv(x[3], op.stride)}, nil
}

func (op *shortcutAOp) Do(in ...G.Value) (G.Value, error) {
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
		subsamplePad(data[float32](ts[0]), ts[0].Shape(), data[float32](out), op.cout, op.stride, false)
	} else {
		subsamplePad(data[float64](ts[0]), ts[0].Shape(), data[float64](out), op.cout, op.stride, false)
	}
	return out, nil
}

// subsamplePad copies x (N,C,H,W) into the strided, channel-padded y, or with
// backward set, gathers y's gradient back into x (zeros elsewhere).
func subsamplePad[T float](x []T, xs tensor.Shape, y []T, cout, stride int, backward bool) {
	n, c, h, w := xs[0], xs[1], xs[2], xs[3]
	ho, wo := ceilDiv(h, stride), ceilDiv(w, stride)
	pad := (cout - c) / 2
	if backward {
		clear(x)
	} else {
		clear(y)
	}
	for i := 0; i < n; i++ {
		for ci := 0; ci < c; ci++ {
			xp := x[(i*c+ci)*h*w:][:h*w]
			yp := y[(i*cout+pad+ci)*ho*wo:][:ho*wo]
			for oy := 0; oy < ho; oy++ {
				for ox := 0; ox < wo; ox++ {
					if backward {
						xp[stride*(oy*w+ox)] = yp[oy*wo+ox]
					} else {
						yp[oy*wo+ox] = xp[stride*(oy*w+ox)]
					}
				}
			}
		}
	}
}

func (op *shortcutAOp) SymDiff(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	dx, err := G.ApplyOp(&shortcutAGrad{opBase: newOpBase(op.name + "Grad"), fwd: op}, in[0], grad)
	return G.Nodes{dx}, err
}

// shortcutAGrad routes the shortcut's gradient back to the kept pixels.
type shortcutAGrad struct {
	opBase
	fwd *shortcutAOp
	ws  workspace
}

func (op *shortcutAGrad) Arity() int    { return 2 } // x, dy
func (op *shortcutAGrad) Type() hm.Type { return fnType(4, 4, 4) }
func (op *shortcutAGrad) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapes(op.name, in, 4, 4)
	if err != nil {
		return nil, err
	}
	return s[0].Clone(), nil
}

func (op *shortcutAGrad) Do(in ...G.Value) (G.Value, error) {
	ts, dt, err := dense(op.name, in)
	if err != nil {
		return nil, err
	}
	out := op.ws.output(0, dt, ts[0].Shape())
	cout := ts[1].Shape()[1]
	if dt == tensor.Float32 {
		subsamplePad(data[float32](out), out.Shape(), data[float32](ts[1]), cout, op.fwd.stride, true)
	} else {
		subsamplePad(data[float64](out), out.Shape(), data[float64](ts[1]), cout, op.fwd.stride, true)
	}
	return out, nil
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// globalAvgPoolOp averages each channel's plane: (N,C,H,W) -> (N,C).
type globalAvgPoolOp struct {
	opBase
	ws workspace
}

func (op *globalAvgPoolOp) Arity() int         { return 1 }
func (op *globalAvgPoolOp) Type() hm.Type      { return fnType(4, 2) }
func (op *globalAvgPoolOp) DiffWRT(int) []bool { return []bool{true} }
func (op *globalAvgPoolOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapes(op.name, in, 4)
	if err != nil {
		return nil, err
	}
	return tensor.Shape{s[0][0], s[0][1]}, nil
}

func (op *globalAvgPoolOp) Do(in ...G.Value) (G.Value, error) {
	ts, dt, err := dense(op.name, in)
	if err != nil {
		return nil, err
	}
	s := ts[0].Shape()
	out := op.ws.output(0, dt, tensor.Shape{s[0], s[1]})
	if dt == tensor.Float32 {
		avgPlanes(data[float32](ts[0]), s[2]*s[3], data[float32](out))
	} else {
		avgPlanes(data[float64](ts[0]), s[2]*s[3], data[float64](out))
	}
	return out, nil
}

func avgPlanes[T float](x []T, hw int, y []T) {
	for p := range y {
		var sum T
		for _, v := range x[p*hw : (p+1)*hw] {
			sum += v
		}
		y[p] = sum / T(hw)
	}
}

func (op *globalAvgPoolOp) SymDiff(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	dx, err := G.ApplyOp(&globalAvgPoolGrad{opBase: newOpBase(op.name + "Grad")}, in[0], grad)
	return G.Nodes{dx}, err
}

// globalAvgPoolGrad spreads each (N,C) gradient evenly over its plane.
type globalAvgPoolGrad struct {
	opBase
	ws workspace
}

func (op *globalAvgPoolGrad) Arity() int    { return 2 } // x, dy
func (op *globalAvgPoolGrad) Type() hm.Type { return fnType(4, 2, 4) }
func (op *globalAvgPoolGrad) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapes(op.name, in, 4, 2)
	if err != nil {
		return nil, err
	}
	return s[0].Clone(), nil
}

func (op *globalAvgPoolGrad) Do(in ...G.Value) (G.Value, error) {
	ts, dt, err := dense(op.name, in)
	if err != nil {
		return nil, err
	}
	s := ts[0].Shape()
	out := op.ws.output(0, dt, s)
	if dt == tensor.Float32 {
		spreadPlanes(data[float32](ts[1]), s[2]*s[3], data[float32](out))
	} else {
		spreadPlanes(data[float64](ts[1]), s[2]*s[3], data[float64](out))
	}
	return out, nil
}

func spreadPlanes[T float](dy []T, hw int, dx []T) {
	for p, g := range dy {
		g /= T(hw)
		plane := dx[p*hw : (p+1)*hw]
		for j := range plane {
			plane[j] = g
		}
	}
}
