package layers

import (
	"math"
	"math/rand"
	"slices"
	"strings"
	"testing"

	"github.com/gorgonia-zoo/resnet/internal/gradcheck"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

func mustCost(t *testing.T, rng *rand.Rand, y *G.Node) *G.Node {
	t.Helper()
	c, err := gradcheck.WeightedSum(rng, y)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newTestScope(g *G.ExprGraph, training bool) *Scope {
	return NewScope(g, NewState(), tensor.Float64, NewMode(training), 7)
}

func TestConvGradients(t *testing.T) {
	for _, c := range []struct{ k, stride, pad, h int }{{3, 1, 1, 5}, {3, 2, 1, 6}, {1, 1, 0, 4}, {1, 2, 0, 5}, {7, 2, 3, 9}} {
		rng := rand.New(rand.NewSource(1))
		g := G.NewGraph()
		s := newTestScope(g, true)
		x := gradcheck.Input(g, rng, "x", tensor.Float64, 2, 3, c.h, c.h)
		y, err := Conv2d(s, "conv", x, 4, c.k, c.stride, c.pad)
		if err != nil {
			t.Fatal(err)
		}
		gradcheck.Assert(t, g, mustCost(t, rng, y), append(G.Nodes{x}, s.Learnables()...))
	}
}

// TestConvMatchesStock checks the NCHW GEMM convolution against Gorgonia's
// own im2col Conv2d, values and gradients, in float32 to 1e-4 relative.
func TestConvMatchesStock(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	// The first cases take the shifted-products path (stride 1, same
	// padding), the 1x1 the pointwise path, the 3x3 stride 2 the shifted
	// path's phases (on images wide enough for vec.DealRows' assembly in
	// the second), the rest im2col.
	fixed := [][4]int{{3, 1, 1, 0}, {5, 1, 2, 0}, {1, 1, 0, 0}, {3, 2, 1, 0}, {3, 2, 1, 35}}
	for trial := 0; trial < 11; trial++ {
		n, cin, cout, h := 1+rng.Intn(3), 1+rng.Intn(5), 1+rng.Intn(6), 3+rng.Intn(8)
		k := []int{1, 3, 5}[rng.Intn(3)]
		stride, pad := 1+rng.Intn(2), rng.Intn(k/2+1)
		if trial < len(fixed) {
			k, stride, pad = fixed[trial][0], fixed[trial][1], fixed[trial][2]
			if fixed[trial][3] > 0 {
				h = fixed[trial][3]
			}
		}
		xv, wv, rv := gradcheck.RandTensor(rng, tensor.Float32, n, cin, h, h), gradcheck.RandTensor(rng, tensor.Float32, cout, cin, k, k), (*tensor.Dense)(nil)
		run := func(ours bool) (out []float32, dx, dw []float32) {
			g := G.NewGraph()
			x := G.NewTensor(g, tensor.Float32, 4, G.WithShape(xv.Shape()...), G.WithName("x"), G.WithValue(xv.Clone()))
			w := G.NewTensor(g, tensor.Float32, 4, G.WithShape(wv.Shape()...), G.WithName("w"), G.WithValue(wv.Clone()))
			var y *G.Node
			if ours {
				y = G.Must(G.ApplyOp(newConvOp(convGeom{k, k, stride, stride, pad, pad}), x, w))
			} else {
				y = G.Must(G.Conv2d(x, w, tensor.Shape{k, k}, []int{pad, pad}, []int{stride, stride}, []int{1, 1}))
			}
			if rv == nil {
				rv = gradcheck.RandTensor(rng, tensor.Float32, y.Shape()...)
			}
			r := G.NewTensor(g, tensor.Float32, 4, G.WithShape(y.Shape()...), G.WithName("r"), G.WithValue(rv))
			cost := G.Must(G.Sum(G.Must(G.HadamardProd(y, r))))
			if _, err := G.Grad(cost, x, w); err != nil {
				t.Fatal(err)
			}
			var yv G.Value
			G.Read(y, &yv)
			vm := G.NewTapeMachine(g, G.BindDualValues(x, w))
			defer vm.Close()
			if err := vm.RunAll(); err != nil {
				t.Fatal(err)
			}
			gx, _ := x.Grad()
			gw, _ := w.Grad()
			return append([]float32(nil), yv.Data().([]float32)...), gx.Data().([]float32), gw.Data().([]float32)
		}
		y1, dx1, dw1 := run(false)
		y2, dx2, dw2 := run(true)
		for _, p := range []struct {
			what      string
			want, got []float32
		}{{"output", y1, y2}, {"dx", dx1, dx2}, {"dw", dw1, dw2}} {
			if err := relDiff(p.want, p.got); err > 1e-4 {
				t.Errorf("trial %d (n%d cin%d cout%d h%d k%d s%d p%d): %s differs from stock Conv2d by %.2e", trial, n, cin, cout, h, k, stride, pad, p.what, err)
			}
		}
	}
}

// TestConvWeightGradientHalfChunks checks the weight gradient where the
// shifted path cuts the batch into pieces of which one is empty: 5 images
// of 24 channels of 32x32 make 4 chunks of up to 2, and the last of the
// first half of the batch holds one image, so its two halves are it and
// nothing. The same ops first run on 6 images, for which that piece is
// not empty, so that its partial sum would hold that run's values if it
// were not cleared; dW must equal that of fresh ops, and Gorgonia's stock
// convolution's.
func TestConvWeightGradientHalfChunks(t *testing.T) {
	rng := rand.New(rand.NewSource(6))
	g := convGeom{3, 3, 1, 1, 1, 1}
	if l := layoutOf(&g, 32, 32, 24, 5); l.pieces() != 6 {
		t.Fatalf("layout: %d chunks of up to %d, %d pieces; want 6 pieces", l.count, l.chunk, l.pieces())
	}
	w := gradcheck.RandTensor(rng, tensor.Float32, 24, 24, 3, 3)
	type ops struct{ input, weight *convGrad }
	newOps := func() ops {
		fwd := newConvOp(g)
		in := &convGrad{opBase: newOpBase("in"), fwd: fwd, want: wantInput}
		return ops{in, &convGrad{opBase: newOpBase("w"), fwd: fwd, want: wantWeight, input: in}}
	}
	dw := func(o ops, x, dy *tensor.Dense) []float32 {
		dx, err := o.input.Do(x, w, dy)
		if err != nil {
			t.Fatal(err)
		}
		d, err := o.weight.Do(x, w, dy, dx)
		if err != nil {
			t.Fatal(err)
		}
		return append([]float32(nil), d.Data().([]float32)...)
	}
	x6, dy6 := gradcheck.RandTensor(rng, tensor.Float32, 6, 24, 32, 32), gradcheck.RandTensor(rng, tensor.Float32, 6, 24, 32, 32)
	x5, dy5 := gradcheck.RandTensor(rng, tensor.Float32, 5, 24, 32, 32), gradcheck.RandTensor(rng, tensor.Float32, 5, 24, 32, 32)
	reused := newOps()
	dw(reused, x6, dy6)
	got, fresh := dw(reused, x5, dy5), dw(newOps(), x5, dy5)
	if !slices.Equal(got, fresh) {
		t.Errorf("dW of 5 images after a run on 6 differs from fresh ops' by %.2e", relDiff(fresh, got))
	}
	// The reference: dL/dW of L = sum(y * dy), y the stock convolution of x.
	gr := G.NewGraph()
	xn := G.NewTensor(gr, tensor.Float32, 4, G.WithShape(5, 24, 32, 32), G.WithName("x"), G.WithValue(x5.Clone()))
	wn := G.NewTensor(gr, tensor.Float32, 4, G.WithShape(24, 24, 3, 3), G.WithName("w"), G.WithValue(w.Clone()))
	dyn := G.NewTensor(gr, tensor.Float32, 4, G.WithShape(5, 24, 32, 32), G.WithName("dy"), G.WithValue(dy5.Clone()))
	y := G.Must(G.Conv2d(xn, wn, tensor.Shape{3, 3}, []int{1, 1}, []int{1, 1}, []int{1, 1}))
	if _, err := G.Grad(G.Must(G.Sum(G.Must(G.HadamardProd(y, dyn)))), wn); err != nil {
		t.Fatal(err)
	}
	vm := G.NewTapeMachine(gr, G.BindDualValues(wn))
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	want, _ := wn.Grad()
	if err := relDiff(want.Data().([]float32), fresh); err > 1e-4 {
		t.Errorf("dW differs from stock Conv2d's by %.2e", err)
	}
}

// TestConvSkipsUnwantedInputGradient checks that a convolution of a leaf
// whose gradient G.Grad was not asked for (a network's images) leaves dx
// zero and still gives the weight gradient of a graph that asks for both,
// on the shifted path and the im2col one.
func TestConvSkipsUnwantedInputGradient(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	for _, stride := range []int{1, 2} {
		xv, wv := gradcheck.RandTensor(rng, tensor.Float32, 3, 3, 8, 8), gradcheck.RandTensor(rng, tensor.Float32, 4, 3, 3, 3)
		run := func(wantX bool) (dw []float32, gi *convGrad, dx []float32) {
			g := G.NewGraph()
			x := G.NewTensor(g, tensor.Float32, 4, G.WithShape(xv.Shape()...), G.WithName("x"), G.WithValue(xv.Clone()))
			w := G.NewTensor(g, tensor.Float32, 4, G.WithShape(wv.Shape()...), G.WithName("w"), G.WithValue(wv.Clone()))
			y := G.Must(G.ApplyOp(newConvOp(convGeom{3, 3, stride, stride, 1, 1}), x, w))
			cost := G.Must(G.Sum(G.Must(G.Square(y))))
			wrt := G.Nodes{w}
			if wantX {
				wrt = G.Nodes{x, w}
			}
			if _, err := G.Grad(cost, wrt...); err != nil {
				t.Fatal(err)
			}
			var dxNode *G.Node
			for _, n := range g.AllNodes() {
				if op, ok := n.Op().(*convGrad); ok && op.want == wantInput {
					gi, dxNode = op, n
				}
			}
			vm := G.NewTapeMachine(g, G.BindDualValues(wrt...))
			defer vm.Close()
			if err := vm.RunAll(); err != nil {
				t.Fatal(err)
			}
			gw, _ := w.Grad()
			return append([]float32(nil), gw.Data().([]float32)...), gi, append([]float32(nil), dxNode.Value().Data().([]float32)...)
		}
		dwBoth, giBoth, _ := run(true)
		dwOnly, giOnly, dx := run(false)
		if giBoth.unwanted() || !giOnly.unwanted() {
			t.Fatalf("stride %d: unwanted() = %v with x's gradient asked for, %v without; want false, true", stride, giBoth.unwanted(), giOnly.unwanted())
		}
		for i, v := range dx {
			if v != 0 {
				t.Fatalf("stride %d: dx[%d] = %v, want 0 when x's gradient was not asked for", stride, i, v)
			}
		}
		if err := relDiff(dwBoth, dwOnly); err > 1e-6 {
			t.Errorf("stride %d: dW differs by %.2e when x's gradient is not asked for", stride, err)
		}
	}
}

// TestPlanMemoryDefersBatchNorm: a batch norm with its ReLU read only by a
// stride-1 convolution is deferred, and the convolution's output and the
// gradients are bitwise those of the graph without a plan; kept, the batch
// norm is not deferred and its value is its normalized output.
func TestPlanMemoryDefersBatchNorm(t *testing.T) {
	type result struct {
		plan         MemoryPlan
		y, bn, dw    []float32
		bnWasWritten bool
	}
	run := func(plan, keepBN bool) result {
		rng := rand.New(rand.NewSource(4))
		g := G.NewGraph()
		s := NewScope(g, NewState(), tensor.Float32, NewMode(true), 7)
		x := gradcheck.Input(g, rng, "x", tensor.Float32, 4, 3, 8, 8)
		h, err := Conv2d(s, "conv1", x, 5, 3, 1, 1)
		if err != nil {
			t.Fatal(err)
		}
		bn, err := BatchNorm2d(s, "bn1", h, BNOptions{ReLU: true})
		if err != nil {
			t.Fatal(err)
		}
		y, err := Conv2d(s, "conv2", bn, 6, 3, 1, 1)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := G.Grad(G.Must(G.Sum(G.Must(G.Square(y)))), s.Learnables()...); err != nil {
			t.Fatal(err)
		}
		var r result
		if plan {
			keep := G.Nodes{y}
			if keepBN {
				keep = append(keep, bn)
			}
			if r.plan, err = PlanMemory(g, keep...); err != nil {
				t.Fatal(err)
			}
		}
		vm := NewMachine(g, G.BindDualValues(s.Learnables()...))
		defer CloseMachine(vm)
		if err := vm.RunAll(); err != nil {
			t.Fatal(err)
		}
		r.y = append(r.y, y.Value().Data().([]float32)...)
		r.bn = append(r.bn, bn.Value().Data().([]float32)...)
		r.bnWasWritten = &bn.Value().Data().([]float32)[0] != &h.Value().Data().([]float32)[0]
		for _, p := range s.Learnables() {
			gv, _ := p.Grad()
			r.dw = append(r.dw, gv.Data().([]float32)...)
		}
		return r
	}
	plain, deferred, kept := run(false, false), run(true, false), run(true, true)
	if deferred.plan.Deferred != 1 || deferred.bnWasWritten {
		t.Fatalf("planned: %d batch norms deferred (output written: %v), want 1 not written", deferred.plan.Deferred, deferred.bnWasWritten)
	}
	if kept.plan.Deferred != 0 || !kept.bnWasWritten {
		t.Fatalf("batch norm kept: %d deferred (output written: %v), want 0 and written", kept.plan.Deferred, kept.bnWasWritten)
	}
	for _, c := range []struct {
		what      string
		want, got []float32
	}{{"deferred output", plain.y, deferred.y}, {"deferred gradients", plain.dw, deferred.dw}, {"kept batch norm", plain.bn, kept.bn}, {"kept output", plain.y, kept.y}} {
		if !slices.Equal(c.want, c.got) {
			t.Errorf("%s differs from the graph without a plan", c.what)
		}
	}
}

// relDiff is max |a-b| over max |a|.
func relDiff(want, got []float32) float64 {
	var diff, scale float64
	for i := range want {
		diff = math.Max(diff, math.Abs(float64(want[i]-got[i])))
		scale = math.Max(scale, math.Abs(float64(want[i])))
	}
	if len(want) != len(got) {
		return math.Inf(1)
	}
	return diff / math.Max(scale, 1e-30)
}

// TestBatchNormGradients checks batch norm's gradients against finite
// differences, with and without its ReLU, in both modes, for a batch of 3
// and one of 35, which imageGroups cuts into groups of one and two images.
func TestBatchNormGradients(t *testing.T) {
	for _, c := range []struct {
		n           int
		relu, train bool
	}{{3, false, true}, {3, false, false}, {3, true, true}, {3, true, false}, {35, true, true}, {35, false, true}} {
		rng := rand.New(rand.NewSource(3))
		g := G.NewGraph()
		s := newTestScope(g, c.train)
		x := gradcheck.Input(g, rng, "x", tensor.Float64, c.n, 4, 3, 2)
		y, err := BatchNorm2d(s, "bn", x, BNOptions{ReLU: c.relu})
		if err != nil {
			t.Fatal(err)
		}
		randomizeState(rng, s)
		gradcheck.Assert(t, g, mustCost(t, rng, y), append(G.Nodes{x}, s.Learnables()...))
	}
}

// TestBatchNormAddReLUGradients checks relu(bn(x) + r), the residual
// block's fused end, against finite differences, x and r included.
func TestBatchNormAddReLUGradients(t *testing.T) {
	for _, training := range []bool{true, false} {
		rng := rand.New(rand.NewSource(5))
		g := G.NewGraph()
		s := newTestScope(g, training)
		x := gradcheck.Input(g, rng, "x", tensor.Float64, 3, 4, 3, 2)
		r := gradcheck.Input(g, rng, "r", tensor.Float64, 3, 4, 3, 2)
		bn, err := NewBatchNorm2d(s, "bn", 4, BNOptions{})
		if err != nil {
			t.Fatal(err)
		}
		y, err := bn.AddReLU(x, r)
		if err != nil {
			t.Fatal(err)
		}
		randomizeState(rng, s)
		gradcheck.Assert(t, g, mustCost(t, rng, y), append(G.Nodes{x, r}, s.Learnables()...))
	}
}

// TestBatchNormAddReLUIsTwoOps: the fused op gives the bits of a batch norm
// followed by AddReLU, forward and backward, in float32.
func TestBatchNormAddReLUIsTwoOps(t *testing.T) {
	rng := rand.New(rand.NewSource(6))
	xv, rv := gradcheck.RandTensor(rng, tensor.Float32, 6, 8, 7, 7), gradcheck.RandTensor(rng, tensor.Float32, 6, 8, 7, 7)
	run := func(fused bool) [][]float32 {
		g := G.NewGraph()
		s := NewScope(g, NewState(), tensor.Float32, NewMode(true), 7)
		x := G.NewTensor(g, tensor.Float32, 4, G.WithShape(xv.Shape()...), G.WithName("x"), G.WithValue(xv.Clone()))
		r := G.NewTensor(g, tensor.Float32, 4, G.WithShape(rv.Shape()...), G.WithName("r"), G.WithValue(rv.Clone()))
		bn, err := NewBatchNorm2d(s, "bn", 8, BNOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var y *G.Node
		if fused {
			y, err = bn.AddReLU(x, r)
		} else if y, err = bn.Apply(x); err == nil {
			y, err = AddReLU(y, r)
		}
		if err != nil {
			t.Fatal(err)
		}
		wrt := append(G.Nodes{x, r}, s.Learnables()...)
		if _, err := G.Grad(G.Must(G.Sum(G.Must(G.Square(y)))), wrt...); err != nil {
			t.Fatal(err)
		}
		var yv G.Value
		G.Read(y, &yv)
		vm := NewMachine(g, G.BindDualValues(wrt...))
		defer CloseMachine(vm)
		if err := vm.RunAll(); err != nil {
			t.Fatal(err)
		}
		out := [][]float32{append([]float32(nil), yv.Data().([]float32)...)}
		for _, n := range wrt {
			d, err := n.Grad()
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, append([]float32(nil), d.Data().([]float32)...))
		}
		return out
	}
	want, got := run(false), run(true)
	for i := range want {
		for j := range want[i] {
			if got[i][j] != want[i][j] {
				t.Fatalf("value %d (0: output, then x, r, gamma, beta gradients) element %d: fused %v, two ops %v", i, j, got[i][j], want[i][j])
			}
		}
	}
}

func TestBatchNormMisuse(t *testing.T) {
	g := G.NewGraph()
	s := newTestScope(g, true)
	x := G.NewTensor(g, tensor.Float64, 4, G.WithShape(2, 4, 3, 3), G.WithName("x"))
	r := G.NewTensor(g, tensor.Float64, 4, G.WithShape(2, 4, 3, 2), G.WithName("r"))
	withReLU, err := NewBatchNorm2d(s, "bn1", 4, BNOptions{ReLU: true})
	if err != nil {
		t.Fatal(err)
	}
	plain, err := NewBatchNorm2d(s, "bn2", 5, BNOptions{})
	if err != nil {
		t.Fatal(err)
	}
	fits, err := NewBatchNorm2d(s, "bn3", 4, BNOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		what string
		err  func() error
		want string
	}{
		{"AddReLU after a ReLU", func() error { _, err := withReLU.AddReLU(x, x); return err }, "bn1: AddReLU of a batch norm made with the ReLU option"},
		{"channels", func() error { _, err := plain.Apply(x); return err }, "bn2: input has 4 channels, the batch norm 5"},
		{"residual shape", func() error { _, err := fits.AddReLU(x, r); return err }, "bn3"},
	} {
		err := c.err()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.what, err, c.want)
		}
	}
}

// TestBatchNormStatistics checks the output and the running statistics
// against sums taken here, for a batch of 4 and one of 37 (groups of one
// and two images), in training, in evaluation and back.
func TestBatchNormStatistics(t *testing.T) {
	for _, n := range []int{4, 37} {
		batchNormStatistics(t, n)
	}
}

func batchNormStatistics(t *testing.T, n int) {
	rng := rand.New(rand.NewSource(4))
	g := G.NewGraph()
	mode := NewMode(true)
	s := NewScope(g, NewState(), tensor.Float64, mode, 1)
	x := gradcheck.Input(g, rng, "x", tensor.Float64, n, 2, 3, 3)
	y, err := BatchNorm2d(s, "bn", x, BNOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var yv G.Value
	G.Read(y, &yv)
	vm := G.NewTapeMachine(g)
	defer vm.Close()
	step := func() []float64 {
		t.Helper()
		defer vm.Reset()
		if err := vm.RunAll(); err != nil {
			t.Fatal(err)
		}
		return append([]float64(nil), yv.Data().([]float64)...)
	}
	xs := x.Value().Data().([]float64)
	m := float64(n * 9)
	mean, sq := make([]float64, 2), make([]float64, 2)
	for i, v := range xs {
		mean[(i/9)%2] += v / m
	}
	for i, v := range xs {
		d := v - mean[(i/9)%2]
		sq[(i/9)%2] += d * d
	}
	out := step()
	for i, v := range xs {
		c := (i / 9) % 2
		want := (v - mean[c]) / math.Sqrt(sq[c]/m+BNEpsilon)
		if math.Abs(out[i]-want) > 1e-12 {
			t.Fatalf("train output %d = %v, want %v", i, out[i], want)
		}
	}
	rm, _ := s.State().Get("bn.running_mean")
	rv, _ := s.State().Get("bn.running_var")
	nbt, _ := s.State().Get("bn.num_batches_tracked")
	for c := 0; c < 2; c++ {
		if got, want := rm.Value.Data().([]float64)[c], 0.1*mean[c]; math.Abs(got-want) > 1e-12 {
			t.Errorf("running_mean[%d] = %v, want %v", c, got, want)
		}
		if got, want := rv.Value.Data().([]float64)[c], 0.9+0.1*sq[c]/(m-1); math.Abs(got-want) > 1e-12 {
			t.Errorf("running_var[%d] = %v, want %v (unbiased)", c, got, want)
		}
	}
	// Eval uses the running statistics and leaves them alone; back in
	// training they carry on from where they were.
	mode.SetTraining(false)
	rmBefore := append([]float64(nil), rm.Value.Data().([]float64)...)
	out = step()
	for i, v := range xs {
		c := (i / 9) % 2
		want := (v - rmBefore[c]) / math.Sqrt(rv.Value.Data().([]float64)[c]+BNEpsilon)
		if math.Abs(out[i]-want) > 1e-12 {
			t.Fatalf("eval output %d = %v, want %v", i, out[i], want)
		}
	}
	mode.SetTraining(true)
	step()
	if got, want := rm.Value.Data().([]float64)[0], 0.9*rmBefore[0]+0.1*mean[0]; math.Abs(got-want) > 1e-12 {
		t.Errorf("after train->eval->train running_mean[0] = %v, want %v", got, want)
	}
	if got := nbt.Value.Data().(int64); got != 2 {
		t.Errorf("num_batches_tracked = %d, want 2 (eval does not count)", got)
	}
}

func TestElementwiseGradients(t *testing.T) {
	rng := rand.New(rand.NewSource(5))
	g := G.NewGraph()
	a := gradcheck.Input(g, rng, "a", tensor.Float64, 2, 4, 3, 3)
	b := gradcheck.Input(g, rng, "b", tensor.Float64, 2, 4, 3, 3)
	r, err := ReLU(a)
	if err != nil {
		t.Fatal(err)
	}
	ar, err := AddReLU(r, b)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := ShortcutA(ar, 8, 2)
	if err != nil {
		t.Fatal(err)
	}
	if !sc.Shape().Eq(tensor.Shape{2, 8, 2, 2}) {
		t.Fatalf("ShortcutA shape %v, want (2,8,2,2)", sc.Shape())
	}
	p, err := GlobalAvgPool(sc)
	if err != nil {
		t.Fatal(err)
	}
	s := newTestScope(g, true)
	fc, err := Linear(s, "fc", p, 3)
	if err != nil {
		t.Fatal(err)
	}
	gradcheck.Assert(t, g, mustCost(t, rng, fc), append(G.Nodes{a, b}, s.Learnables()...))
}

func TestShortcutAValues(t *testing.T) {
	g := G.NewGraph()
	xv := tensor.New(tensor.WithShape(1, 2, 3, 3), tensor.WithBacking([]float64{
		1, 2, 3, 4, 5, 6, 7, 8, 9,
		11, 12, 13, 14, 15, 16, 17, 18, 19}))
	x := G.NewTensor(g, tensor.Float64, 4, G.WithShape(1, 2, 3, 3), G.WithName("x"), G.WithValue(xv))
	y := G.Must(ShortcutA(x, 4, 2))
	vm := G.NewTapeMachine(g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	want := []float64{0, 0, 0, 0, 1, 3, 7, 9, 11, 13, 17, 19, 0, 0, 0, 0}
	got := y.Value().Data().([]float64)
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("ShortcutA = %v, want %v", got, want)
		}
	}
}

func TestSoftmaxCrossEntropy(t *testing.T) {
	rng := rand.New(rand.NewSource(6))
	g := G.NewGraph()
	z := gradcheck.Input(g, rng, "z", tensor.Float64, 3, 5)
	tv := tensor.New(tensor.WithShape(3, 5), tensor.WithBacking(make([]float64, 15)))
	labels := []int{2, 0, 4}
	for i, l := range labels {
		tv.Data().([]float64)[i*5+l] = 1
	}
	tn := G.NewTensor(g, tensor.Float64, 2, G.WithShape(3, 5), G.WithName("t"), G.WithValue(tv))
	loss, err := SoftmaxCrossEntropy(z, tn)
	if err != nil {
		t.Fatal(err)
	}
	zs := z.Value().Data().([]float64)
	var want float64
	for i, l := range labels {
		var se float64
		for j := 0; j < 5; j++ {
			se += math.Exp(zs[i*5+j])
		}
		want += (math.Log(se) - zs[i*5+l]) / 3
	}
	gradcheck.Assert(t, g, loss, G.Nodes{z})
	vm := G.NewTapeMachine(g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	if got := loss.Value().Data().(float64); math.Abs(got-want) > 1e-12 {
		t.Errorf("loss = %v, want %v", got, want)
	}
	// A huge logit in row 0 must not spill into other rows (stock LogSoftMax does).
	zs[0] = 1e4
	vm.Reset()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	if got := loss.Value().Data().(float64); math.IsNaN(got) || math.IsInf(got, 0) {
		t.Errorf("loss with logit 1e4 = %v, want finite", got)
	}
}

// randomizeState gives a scope's float64 tensors (gamma, beta, running
// statistics) non-trivial values in [0.5, 1.5).
func randomizeState(rng *rand.Rand, s *Scope) {
	for _, e := range s.State().Entries() {
		if d, ok := e.Value.Data().([]float64); ok {
			for i := range d {
				d[i] = 0.5 + rng.Float64()
			}
		}
	}
}
