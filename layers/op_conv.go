package layers

import (
	"fmt"

	"github.com/chewxy/hm"
	"github.com/gorgonia-zoo/resnet/internal/parallel"
	"github.com/pkg/errors"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// convGeom is a 2-D convolution's kernel size, stride and zero padding.
type convGeom struct{ kh, kw, sh, sw, ph, pw int }

func (g *convGeom) outSize(h, w int) (int, int) {
	return (h+2*g.ph-g.kh)/g.sh + 1, (w+2*g.pw-g.kw)/g.sw + 1
}

// pointwise reports whether the convolution is a plain matrix product over
// channels (1x1, stride 1, no padding), which needs no im2col.
func (g *convGeom) pointwise() bool {
	return g.kh == 1 && g.kw == 1 && g.sh == 1 && g.sw == 1 && g.ph == 0 && g.pw == 0
}

func (g *convGeom) String() string {
	return fmt.Sprintf("%dx%d/s%d/p%d", g.kh, g.kw, g.sh, g.ph)
}

// convOp convolves x (N,Cin,H,W) with w (Cout,Cin,kh,kw) into (N,Cout,Ho,Wo)
// straight in NCHW. The ResNets' 3x3 shapes (stride 1 with "same" padding,
// stride 2 with padding 1) in float32 are one indirect product per chunk of
// images (conv_shifted.go); the rest, per image, out = W (Cout, Cin*kh*kw)
// x im2col(x).
type convOp struct {
	opBase
	geom convGeom
	// norm, set by PlanMemory, is the deferred batch norm whose output x
	// is (see batchNormOp.deferred): x's values are then the batch norm's
	// input, normalized as they are laid out.
	norm *batchNormOp
	// then, set by PlanMemory, is the batch norm with a residual that alone
	// reads the output and that the convolution applies in evaluation mode
	// (see batchNormOp.byConv); thenArgs are its gamma, beta and r, whose
	// values the convolution reads when it runs.
	then     *batchNormOp
	thenArgs G.Nodes
	ws       workspace
}

func newConvOp(g convGeom) *convOp {
	return &convOp{opBase: newOpBase("Conv" + g.String()), geom: g}
}

func (op *convOp) Arity() int         { return 2 }
func (op *convOp) Type() hm.Type      { return fnType(4, 4, 4) }
func (op *convOp) DiffWRT(int) []bool { return []bool{true, true} }

func (op *convOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapes(op.name, in, 4, 4)
	if err != nil {
		return nil, err
	}
	x, w := s[0], s[1]
	if x[1] != w[1] || w[2] != op.geom.kh || w[3] != op.geom.kw {
		return nil, errors.Errorf("%s: input %v does not fit weight %v", op.name, x, w)
	}
	ho, wo := op.geom.outSize(x[2], x[3])
	if ho <= 0 || wo <= 0 {
		return nil, errors.Errorf("%s: input %v is smaller than the kernel", op.name, x)
	}
	return tensor.Shape{x[0], w[0], ho, wo}, nil
}

func (op *convOp) Do(in ...G.Value) (G.Value, error) {
	defer op.timed()()
	ts, dt, err := dense(op.name, in)
	if err != nil {
		return nil, err
	}
	shape, err := op.InferShape(ts[0].Shape(), ts[1].Shape())
	if err != nil {
		return nil, err
	}
	out := op.ws.output(0, dt, shape)
	if dt == tensor.Float32 {
		after, err := op.chunkNorm(out)
		if err != nil {
			return nil, err
		}
		convForward[float32](op, ts[0], ts[1], out, after)
	} else {
		convForward[float64](op, ts[0], ts[1], out, nil)
	}
	return out, nil
}

// chunkNorm returns what the convolution does to images first to
// first+n-1 of out once it has written them: in evaluation mode, apply its
// then batch norm (see batchNormOp.byConv), whose scale and shift it sets
// first; nil when there is nothing to do.
func (op *convOp) chunkNorm(out *tensor.Dense) (func(first, n int), error) {
	bn := op.then
	if bn == nil || bn.mode.Training() {
		return nil, nil
	}
	var args [3]*tensor.Dense
	for i, n := range op.thenArgs {
		t, ok := n.Value().(*tensor.Dense)
		if !ok || t.Dtype() != tensor.Float32 {
			return nil, errors.Errorf("%s: %s's input %s holds %T, want a float32 tensor", op.name, bn.name, n.Name(), n.Value())
		}
		args[i] = t
	}
	gamma, beta, r := args[0], args[1], args[2]
	bnForward[float32](bn, out, gamma, beta, nil, nil)
	s := out.Shape()
	y, res := data[float32](out), data[float32](r)
	return func(first, n int) {
		normalizeImages(bn, y, y, res, first, n, s[1], s[2]*s[3], 0, s[1])
	}, nil
}

// SymDiff builds the two gradient ops. The weight gradient's also takes dx,
// only to run after the input gradient's op, which computes the weight
// gradient's partial sums too where it can (see shiftedBackward). When x is
// a leaf of the graph (a network's first convolution reads the images),
// the input gradient's op computes dx only if G.Grad was asked for x's
// gradient (see convGrad.unwanted).
func (op *convOp) SymDiff(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	gi := &convGrad{opBase: newOpBase(op.name + "GradInput"), fwd: op, want: wantInput}
	if in[0].IsVar() {
		gi.leaf = in[0]
	}
	dx, err := G.ApplyOp(gi, in[0], in[1], grad)
	if err != nil {
		return nil, err
	}
	dw, err := G.ApplyOp(&convGrad{opBase: newOpBase(op.name + "GradWeight"), fwd: op, want: wantWeight, input: gi}, in[0], in[1], grad, dx)
	if err != nil {
		return nil, err
	}
	return G.Nodes{dx, dw}, nil
}

// convDims are the sizes one convolution call works with.
type convDims struct {
	n, c, h, w int // input
	co, ho, wo int // output
	k, p       int // im2col rows (Cin*kh*kw) and columns (Ho*Wo)
}

func dimsOf(g *convGeom, x, w *tensor.Dense) convDims {
	xs, ws := x.Shape(), w.Shape()
	d := convDims{n: xs[0], c: xs[1], h: xs[2], w: xs[3], co: ws[0]}
	d.ho, d.wo = g.outSize(d.h, d.w)
	d.k, d.p = d.c*g.kh*g.kw, d.ho*d.wo
	return d
}

// reserve makes sure every worker's scratch slot exists before the workers
// start, so that they only read the workspace's slot table.
func reserve[T float](ws *workspace, first, n int) {
	for i := 0; i < parallel.Workers(); i++ {
		scratch[T](ws, first+i, n)
	}
}

// convForward computes out, and calls after (unless nil) on each piece of
// images it has finished.
func convForward[T float](op *convOp, xt, wt, outt *tensor.Dense, after func(first, n int)) {
	g, d := &op.geom, dimsOf(&op.geom, xt, wt)
	x, w, out := data[T](xt), data[T](wt), data[T](outt)
	if x32, ok := any(x).([]float32); ok && g.shifted() {
		shiftedForward(op, d, x32, any(w).([]float32), any(out).([]float32), after)
		return
	}
	reserve[T](&op.ws, 0, d.k*d.p)
	parallel.For(d.n, func(worker, lo, hi int) {
		col := scratch[T](&op.ws, worker, d.k*d.p)
		for i := lo; i < hi; i++ {
			xi := x[i*d.c*d.h*d.w : (i+1)*d.c*d.h*d.w]
			if g.pointwise() {
				col = xi
			} else {
				im2col(xi, d.c, d.h, d.w, g, col)
			}
			gemm(false, false, d.co, d.p, d.k, w, d.k, col, d.p, 0, out[i*d.co*d.p:(i+1)*d.co*d.p], d.p)
		}
		if after != nil {
			after(lo, hi-lo)
		}
	})
}

// Which gradient a convGrad computes: its input's index.
const (
	wantInput  = 0
	wantWeight = 1
)

// convGrad is one of a convolution's gradients: dL/dx = col2im(W^T x dy)
// per image, or dL/dW = the sum over images of dy x im2col(x)^T.
type convGrad struct {
	opBase
	fwd  *convOp
	want int
	// input, on a weight gradient's op, is the input gradient's op, which
	// it runs after (taking dx as a fourth input) and whose partial sums of
	// dW it adds up when that op left them (parts).
	input *convGrad
	parts wgradParts
	// leaf, on an input gradient's op, is x when x is a leaf of the graph.
	leaf *G.Node
	// dyNorm, set by PlanMemory, is the deferred batch-norm gradient whose
	// output dy is (see bnGradInput.deferred): dy's values are then the
	// batch norm's output gradient, made into its input gradient as they
	// are laid out.
	dyNorm *bnGradInput
	ws     workspace
}

// unwanted reports whether the op is an input gradient's whose x is a leaf
// that no gradient was asked for: G.Grad gives x a derivative node only
// when x is among the nodes it differentiates with respect to (a network's
// images are not), and then nothing reads dx. Like PyTorch, which skips
// the gradient of an input that does not require one, the op then leaves
// dx zero and the weight gradient's op computes dW on its own: on a
// ResNet's first convolution (3 input channels) about 40% of its backward
// pass (go test ./layers -bench ConvFirst).
func (op *convGrad) unwanted() bool {
	return op.want == wantInput && op.leaf != nil && op.leaf.Deriv() == nil
}

// Arity is 3 (x, w, dy), or 4 (x, w, dy, dx) for a weight gradient's op
// that runs after the input gradient's.
func (op *convGrad) Arity() int {
	if op.input != nil {
		return 4
	}
	return 3
}
func (op *convGrad) Type() hm.Type {
	if op.input != nil {
		return fnType(4, 4, 4, 4, 4)
	}
	return fnType(4, 4, 4, 4)
}
func (op *convGrad) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapes(op.name, in, []int{4, 4, 4, 4}[:op.Arity()]...)
	if err != nil {
		return nil, err
	}
	return s[op.want].Clone(), nil
}

func (op *convGrad) Do(in ...G.Value) (G.Value, error) {
	defer op.timed()()
	ts, dt, err := dense(op.name, in)
	if err != nil {
		return nil, err
	}
	out := op.ws.output(0, dt, ts[op.want].Shape())
	switch {
	case op.unwanted():
		zeroOnWorkers(out)
	case op.want == wantInput && dt == tensor.Float32:
		convBackwardInput[float32](op, ts[0], ts[1], ts[2], out)
	case op.want == wantInput:
		convBackwardInput[float64](op, ts[0], ts[1], ts[2], out)
	case dt == tensor.Float32:
		convBackwardWeight[float32](op, ts[0], ts[1], ts[2], out)
	default:
		convBackwardWeight[float64](op, ts[0], ts[1], ts[2], out)
	}
	return out, nil
}

func convBackwardInput[T float](op *convGrad, xt, wt, dyt, dxt *tensor.Dense) {
	g, d := &op.fwd.geom, dimsOf(&op.fwd.geom, xt, wt)
	x, w, dy, dx := data[T](xt), data[T](wt), data[T](dyt), data[T](dxt)
	if w32, ok := any(w).([]float32); ok && g.shifted() {
		shiftedBackwardInput(op, d, any(x).([]float32), w32, any(dy).([]float32), any(dx).([]float32))
		return
	}
	reserve[T](&op.ws, 0, d.k*d.p)
	parallel.For(d.n, func(worker, lo, hi int) {
		dcol := scratch[T](&op.ws, worker, d.k*d.p)
		for i := lo; i < hi; i++ {
			dxi := dx[i*d.c*d.h*d.w : (i+1)*d.c*d.h*d.w]
			dyi := dy[i*d.co*d.p : (i+1)*d.co*d.p]
			if g.pointwise() {
				gemm(true, false, d.k, d.p, d.co, w, d.k, dyi, d.p, 0, dxi, d.p)
				continue
			}
			gemm(true, false, d.k, d.p, d.co, w, d.k, dyi, d.p, 0, dcol, d.p)
			clear(dxi)
			col2im(dcol, d.c, d.h, d.w, g, dxi)
		}
	})
}

// Scratch slots of the weight gradient: one im2col buffer per worker, then one
// partial weight gradient per worker.
func convBackwardWeight[T float](op *convGrad, xt, wt, dyt, dwt *tensor.Dense) {
	g, d := &op.fwd.geom, dimsOf(&op.fwd.geom, xt, wt)
	x, dy, dw := data[T](xt), data[T](dyt), data[T](dwt)
	if in := op.input; in != nil && in.parts.count > 0 {
		in.parts.sum(any(dw).([]float32), d.co)
		in.parts.count = 0
		return
	}
	if x32, ok := any(x).([]float32); ok && g.shifted() {
		shiftedBackwardWeight(op, d, x32, any(dy).([]float32), any(dw).([]float32))
		return
	}
	nw := parallel.Workers()
	reserve[T](&op.ws, 0, d.k*d.p)
	reserve[T](&op.ws, nw, d.co*d.k)
	used := min(nw, d.n)
	parallel.Even(d.n, func(worker, lo, hi int) {
		col := scratch[T](&op.ws, worker, d.k*d.p)
		part := scratch[T](&op.ws, nw+worker, d.co*d.k)
		for i := lo; i < hi; i++ {
			xi := x[i*d.c*d.h*d.w : (i+1)*d.c*d.h*d.w]
			if g.pointwise() {
				col = xi
			} else {
				im2col(xi, d.c, d.h, d.w, g, col)
			}
			beta := T(1)
			if i == lo {
				beta = 0
			}
			gemm(false, true, d.co, d.k, d.p, dy[i*d.co*d.p:(i+1)*d.co*d.p], d.p, col, d.p, beta, part, d.k)
		}
	})
	copy(dw, scratch[T](&op.ws, nw, d.co*d.k))
	for wk := 1; wk < used; wk++ {
		for j, v := range scratch[T](&op.ws, nw+wk, d.co*d.k) {
			dw[j] += v
		}
	}
}
