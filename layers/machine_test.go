package layers

import (
	"math/rand"
	"runtime"
	"testing"

	"github.com/gorgonia-zoo/resnet/internal/gradcheck"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// TestSumEngineAdd holds sumEngine's Add to StdEng's, bit for bit, for each
// way Gorgonia calls it (in place, into a reuse tensor, into a new tensor)
// and for the calls it leaves to StdEng (WithIncr, a broadcast error),
// in both dtypes, on lengths that end in a partial vector.
func TestSumEngineAdd(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(3)) // several workers on a one-core machine too
	for _, dt := range []tensor.Dtype{tensor.Float32, tensor.Float64} {
		for _, shape := range []tensor.Shape{{37}, {2, 3, 5, 7}, {4, 16, 9, 9}} {
			a, b := gradcheck.RandTensor(rng, dt, []int(shape)...), gradcheck.RandTensor(rng, dt, []int(shape)...)
			want, err := tensor.StdEng{}.Add(a, b)
			if err != nil {
				t.Fatal(err)
			}
			ours := func() (*tensor.Dense, *tensor.Dense) {
				return tensor.New(tensor.WithEngine(engine), tensor.WithShape(shape...), tensor.WithBacking(a.Clone().(*tensor.Dense).Data())),
					tensor.New(tensor.WithEngine(engine), tensor.WithShape(shape...), tensor.WithBacking(b.Clone().(*tensor.Dense).Data()))
			}
			x, y := ours()
			safe, err := tensor.Add(x, y)
			check(t, dt, shape, "safe", err, safe, want)
			if safe == tensor.Tensor(x) || safe.Engine() != engine {
				t.Errorf("%v %v: the safe sum is its operand or lost the engine (%T)", dt, shape, safe.Engine())
			}
			x, y = ours()
			inPlace, err := tensor.Add(x, y, tensor.UseUnsafe())
			check(t, dt, shape, "unsafe", err, inPlace, want)
			if inPlace != tensor.Tensor(x) {
				t.Errorf("%v %v: the unsafe sum is not written into its first operand", dt, shape)
			}
			x, y = ours()
			reuse := tensor.New(tensor.Of(dt), tensor.WithShape(shape...))
			got, err := tensor.Add(x, y, tensor.WithReuse(reuse))
			check(t, dt, shape, "reuse", err, got, want)
			if got != tensor.Tensor(reuse) {
				t.Errorf("%v %v: the sum is not written into the reuse tensor", dt, shape)
			}
			x, y = ours()
			incr := want.Clone().(*tensor.Dense)
			wantIncr, _ := tensor.StdEng{}.Add(want, want)
			got, err = tensor.Add(x, y, tensor.WithIncr(incr))
			check(t, dt, shape, "incr", err, got, wantIncr)
		}
		x := tensor.New(tensor.WithEngine(engine), tensor.Of(dt), tensor.WithShape(2, 3))
		y := tensor.New(tensor.WithEngine(engine), tensor.Of(dt), tensor.WithShape(3, 2))
		if _, err := tensor.Add(x, y); err == nil {
			t.Errorf("%v: adding shapes (2, 3) and (3, 2) gave no error", dt)
		}
	}
}

func check(t *testing.T, dt tensor.Dtype, shape tensor.Shape, how string, err error, got, want tensor.Tensor) {
	t.Helper()
	if err != nil {
		t.Fatalf("%v %v %s: %v", dt, shape, how, err)
	}
	if !got.Shape().Eq(want.Shape()) {
		t.Fatalf("%v %v %s: shape %v", dt, shape, how, got.Shape())
	}
	switch g := got.Data().(type) {
	case []float32:
		w := want.Data().([]float32)
		for i := range w {
			if g[i] != w[i] {
				t.Fatalf("%v %v %s: element %d = %v, want %v", dt, shape, how, i, g[i], w[i])
			}
		}
	case []float64:
		w := want.Data().([]float64)
		for i := range w {
			if g[i] != w[i] {
				t.Fatalf("%v %v %s: element %d = %v, want %v", dt, shape, how, i, g[i], w[i])
			}
		}
	}
}

// TestNewMachineSumsGradients: in a machine from NewMachine, the gradient
// of a tensor that feeds two of this package's ops is summed by sumEngine
// (the op profile sees it), to the same bits as in Gorgonia's own machine.
func TestNewMachineSumsGradients(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(3))
	xv := gradcheck.RandTensor(rand.New(rand.NewSource(4)), tensor.Float32, 4, 8, 9, 9)
	run := func(newMachine func(*G.ExprGraph, ...G.VMOpt) G.VM) (dx []float32, times OpTimes) {
		g := G.NewGraph()
		s := NewScope(g, NewState(), tensor.Float32, NewMode(true), 7)
		x := G.NewTensor(g, tensor.Float32, 4, G.WithShape(xv.Shape()...), G.WithName("x"), G.WithValue(xv.Clone()))
		branch, err := Conv2d(s, "conv", x, 8, 3, 1, 1)
		if err != nil {
			t.Fatal(err)
		}
		y, err := AddReLU(branch, x)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := G.Grad(G.Must(G.Sum(y)), x); err != nil {
			t.Fatal(err)
		}
		vm := newMachine(g, G.BindDualValues(x))
		defer CloseMachine(vm)
		StartOpProfile()
		err = vm.RunAll()
		times = StopOpProfile()
		if err != nil {
			t.Fatal(err)
		}
		gx, err := x.Grad()
		if err != nil {
			t.Fatal(err)
		}
		return append([]float32(nil), gx.Data().([]float32)...), times
	}
	want, stock := run(func(g *G.ExprGraph, opts ...G.VMOpt) G.VM { return G.NewTapeMachine(g, opts...) })
	got, ours := run(NewMachine)
	if stock["gradient sums"] != 0 || ours["gradient sums"] == 0 {
		t.Errorf("gradient sums timed %v in Gorgonia's machine and %v in NewMachine's, want none and some", stock["gradient sums"], ours["gradient sums"])
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("dx[%d] = %v, Gorgonia's machine gives %v", i, got[i], want[i])
		}
	}
}
