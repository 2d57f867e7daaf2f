package layers

import (
	"math"
	"math/rand"
	"strings"
	"testing"

	"github.com/gorgonia-zoo/resnet/internal/gradcheck"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

func TestMaxPoolGradients(t *testing.T) {
	for _, c := range []struct{ k, stride, pad, h int }{{3, 2, 1, 7}, {3, 2, 1, 8}, {2, 2, 0, 6}, {3, 1, 1, 5}} {
		rng := rand.New(rand.NewSource(3))
		g := G.NewGraph()
		s := newTestScope(g, true)
		x := gradcheck.Input(g, rng, "x", tensor.Float64, 2, 3, c.h, c.h)
		y, err := MaxPool2d(s, "maxpool", x, c.k, c.stride, c.pad)
		if err != nil {
			t.Fatal(err)
		}
		gradcheck.Assert(t, g, mustCost(t, rng, y), G.Nodes{x})
	}
}

// TestMaxPoolMatchesStock holds the op to Gorgonia's MaxPool2D, values and
// gradients, on random shapes; both route a window's gradient to its first
// maximum, and random inputs have no ties.
func TestMaxPoolMatchesStock(t *testing.T) {
	rng := rand.New(rand.NewSource(4))
	for trial := 0; trial < 8; trial++ {
		n, c, h, w := 1+rng.Intn(3), 1+rng.Intn(4), 4+rng.Intn(9), 4+rng.Intn(9)
		k := 2 + rng.Intn(2)
		stride, pad := 1+rng.Intn(2), rng.Intn(k/2+1)
		xv := gradcheck.RandTensor(rng, tensor.Float32, n, c, h, w)
		var rv *tensor.Dense
		run := func(ours bool) (out, dx []float32) {
			g := G.NewGraph()
			x := G.NewTensor(g, tensor.Float32, 4, G.WithShape(xv.Shape()...), G.WithName("x"), G.WithValue(xv.Clone()))
			var y *G.Node
			if ours {
				y = G.Must(MaxPool2d(NewScope(g, NewState(), tensor.Float32, NewMode(true), 1), "maxpool", x, k, stride, pad))
			} else {
				y = G.Must(G.MaxPool2D(x, tensor.Shape{k, k}, []int{pad, pad}, []int{stride, stride}))
			}
			if rv == nil {
				rv = gradcheck.RandTensor(rng, tensor.Float32, y.Shape()...)
			}
			r := G.NewTensor(g, tensor.Float32, 4, G.WithShape(y.Shape()...), G.WithName("r"), G.WithValue(rv))
			yv, gx := forwardBackward(t, g, x, y, G.Must(G.Sum(G.Must(G.HadamardProd(y, r)))))
			return yv.([]float32), gx.([]float32)
		}
		y1, dx1 := run(false)
		y2, dx2 := run(true)
		if d := relDiff(y1, y2); d != 0 {
			t.Errorf("trial %d (%dx%dx%dx%d k%d s%d p%d): output differs from stock MaxPool2D by %.2e", trial, n, c, h, w, k, stride, pad, d)
		}
		if d := relDiff(dx1, dx2); d > 1e-6 {
			t.Errorf("trial %d (%dx%dx%dx%d k%d s%d p%d): dx differs from stock MaxPool2D by %.2e", trial, n, c, h, w, k, stride, pad, d)
		}
	}
}

// TestMaxPoolNaN: a NaN wins its window, as in PyTorch, and the backward pass
// (where Gorgonia's op panics) routes that window's gradient to it.
func TestMaxPoolNaN(t *testing.T) {
	g := G.NewGraph()
	xs := []float64{
		1, 2, 3, 4,
		5, math.NaN(), 7, 8,
		9, 10, 11, 12,
		13, 14, 15, 16,
	}
	x := G.NewTensor(g, tensor.Float64, 4, G.WithShape(1, 1, 4, 4), G.WithName("x"), G.WithValue(tensor.New(tensor.WithShape(1, 1, 4, 4), tensor.WithBacking(xs))))
	y, err := MaxPool2d(newTestScope(g, true), "maxpool", x, 2, 2, 0)
	if err != nil {
		t.Fatal(err)
	}
	yv, gx := forwardBackward(t, g, x, y, G.Must(G.Sum(y)))
	got := yv.([]float64)
	if !math.IsNaN(got[0]) || got[1] != 8 || got[2] != 14 || got[3] != 16 {
		t.Errorf("pooled %v, want [NaN 8 14 16]", got)
	}
	want := []float64{0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 1, 0, 1}
	for i, v := range gx.([]float64) {
		if v != want[i] {
			t.Fatalf("gradient %v, want %v", gx, want)
		}
	}
}

// forwardBackward runs g and returns copies of y's value and of cost's
// gradient with respect to x.
func forwardBackward(t *testing.T, g *G.ExprGraph, x, y, cost *G.Node) (yv, dx any) {
	t.Helper()
	if _, err := G.Grad(cost, x); err != nil {
		t.Fatal(err)
	}
	var out G.Value
	G.Read(y, &out)
	vm := G.NewTapeMachine(g, G.BindDualValues(x))
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	gx, err := x.Grad()
	if err != nil {
		t.Fatal(err)
	}
	return out.(*tensor.Dense).Clone().(*tensor.Dense).Data(), gx.(*tensor.Dense).Clone().(*tensor.Dense).Data()
}

func TestMaxPoolBadGeometry(t *testing.T) {
	g := G.NewGraph()
	x := G.NewTensor(g, tensor.Float64, 4, G.WithShape(1, 1, 4, 4), G.WithName("x"))
	for _, c := range []struct{ k, stride, pad int }{{0, 1, 0}, {3, 0, 1}, {3, 2, 2}, {3, 1, -1}, {5, 1, 0}, {5, 3, 0}} {
		_, err := MaxPool2d(newTestScope(g, true), "stem.pool", x, c.k, c.stride, c.pad)
		if err == nil || !strings.Contains(err.Error(), "stem.pool") {
			t.Errorf("window %d stride %d padding %d on 4x4: error %v, want one naming stem.pool", c.k, c.stride, c.pad, err)
		}
	}
}
