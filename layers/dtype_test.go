package layers

import (
	"fmt"
	"math/rand"
	"strings"
	"testing"

	"github.com/gorgonia-zoo/resnet/internal/gradcheck"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// runBoth builds one computation in float32 and in float64 on the same
// random inputs and weights, runs it forward and backward through a
// weighted-sum cost, and returns for each dtype the output followed by the
// gradients of every input and learnable, as float64.
func runBoth(t *testing.T, shapes [][]int, fixed int, training bool, build func(s *Scope, in G.Nodes) (*G.Node, error)) [2][][]float64 {
	t.Helper()
	var out [2][][]float64
	for k, dt := range []tensor.Dtype{tensor.Float32, tensor.Float64} {
		rng := rand.New(rand.NewSource(9))
		g := G.NewGraph()
		s := NewScope(g, NewState(), dt, NewMode(training), 3)
		var in G.Nodes
		for i, shape := range shapes {
			v := gradcheck.RandTensor(rng, tensor.Float64, shape...)
			in = append(in, G.NewTensor(g, dt, len(shape), G.WithShape(shape...), G.WithName(fmt.Sprint("in", i)), G.WithValue(convert(v, dt))))
		}
		y, err := build(s, in)
		if err != nil {
			t.Fatal(err)
		}
		cost := y // a loss is its own cost
		if !y.IsScalar() {
			r := G.NewTensor(g, dt, y.Shape().Dims(), G.WithShape(y.Shape()...), G.WithName("r"), G.WithValue(convert(gradcheck.RandTensor(rng, tensor.Float64, y.Shape()...), dt)))
			cost = G.Must(G.Sum(G.Must(G.HadamardProd(y, r))))
		}
		wrt := append(in[:len(in)-fixed:len(in)-fixed], s.Learnables()...)
		if _, err := G.Grad(cost, wrt...); err != nil {
			t.Fatal(err)
		}
		var yv G.Value
		G.Read(y, &yv)
		vm := G.NewTapeMachine(g, G.BindDualValues(wrt...))
		if err := vm.RunAll(); err != nil {
			t.Fatal(err)
		}
		out[k] = append(out[k], floats64(yv))
		for _, n := range wrt {
			gv, err := n.Grad()
			if err != nil {
				t.Fatal(err)
			}
			out[k] = append(out[k], floats64(gv))
		}
		vm.Close()
	}
	return out
}

func convert(t *tensor.Dense, dt tensor.Dtype) *tensor.Dense {
	if dt == tensor.Float64 {
		return t
	}
	src := t.Data().([]float64)
	dst := make([]float32, len(src))
	for i, v := range src {
		dst[i] = float32(v)
	}
	return tensor.New(tensor.WithShape(t.Shape()...), tensor.WithBacking(dst))
}

func floats64(v G.Value) []float64 {
	switch d := v.Data().(type) {
	case float64:
		return []float64{d}
	case float32:
		return []float64{float64(d)}
	case []float64:
		return append([]float64(nil), d...)
	case []float32:
		out := make([]float64, len(d))
		for i, x := range d {
			out[i] = float64(x)
		}
		return out
	}
	panic(fmt.Sprintf("%T", v.Data()))
}

// TestFloat32MatchesFloat64 holds every op's float32 kernels (the fast,
// branch-free, GEMM-based paths training uses) to its float64 ones (the
// paths the finite-difference checks prove), outputs and gradients, to
// 1e-4 relative, on shapes that exercise chunking and both workers.
func TestFloat32MatchesFloat64(t *testing.T) {
	conv := func(k, stride, pad int) func(s *Scope, in G.Nodes) (*G.Node, error) {
		return func(s *Scope, in G.Nodes) (*G.Node, error) { return Conv2d(s, "conv", in[0], 6, k, stride, pad) }
	}
	bn := func(relu bool) func(s *Scope, in G.Nodes) (*G.Node, error) {
		return func(s *Scope, in G.Nodes) (*G.Node, error) {
			return BatchNorm2d(s, "bn", in[0], BNOptions{ReLU: relu})
		}
	}
	image := [][]int{{11, 5, 9, 9}}
	for _, c := range []struct {
		name     string
		shapes   [][]int
		fixed    int // trailing inputs that are not differentiated
		training bool
		build    func(s *Scope, in G.Nodes) (*G.Node, error)
	}{
		{"conv3x3/s1 shifted", image, 0, true, conv(3, 1, 1)},
		{"conv5x5/s1 shifted", image, 0, true, conv(5, 1, 2)},
		// CIFAR's first stage: chunks of 3 images, the last one short.
		{"conv3x3/s1 shifted 16x32x32", [][]int{{5, 16, 32, 32}}, 0, true, conv(3, 1, 1)},
		{"conv3x3/s2 phased", image, 0, true, conv(3, 2, 1)},
		{"conv3x3/s2 phased 16x32x32", [][]int{{5, 16, 32, 32}}, 0, true, conv(3, 2, 1)},
		{"conv1x1/s1 pointwise", image, 0, true, conv(1, 1, 0)},
		{"conv1x1/s2", image, 0, true, conv(1, 2, 0)},
		{"conv7x7/s2 stem", image, 0, true, conv(7, 2, 3)},
		{"bn train", image, 0, true, bn(false)},
		{"bn+relu train", image, 0, true, bn(true)},
		{"bn+relu eval", image, 0, false, bn(true)},
		{"relu", image, 0, true, func(s *Scope, in G.Nodes) (*G.Node, error) { return ReLU(in[0]) }},
		{"add+relu", [][]int{{11, 5, 9, 9}, {11, 5, 9, 9}}, 0, true, func(s *Scope, in G.Nodes) (*G.Node, error) { return AddReLU(in[0], in[1]) }},
		{"bn+add+relu train", [][]int{{11, 5, 9, 9}, {11, 5, 9, 9}}, 0, true, bnAddReLU},
		{"bn+add+relu eval", [][]int{{11, 5, 9, 9}, {11, 5, 9, 9}}, 0, false, bnAddReLU},
		{"maxpool3x3/s2", image, 0, true, func(s *Scope, in G.Nodes) (*G.Node, error) { return MaxPool2d(s, "pool", in[0], 3, 2, 1) }},
		{"shortcut A", image, 0, true, func(s *Scope, in G.Nodes) (*G.Node, error) { return ShortcutA(in[0], 9, 2) }},
		{"pool+linear", image, 0, true, func(s *Scope, in G.Nodes) (*G.Node, error) {
			p, err := GlobalAvgPool(in[0])
			if err != nil {
				return nil, err
			}
			return Linear(s, "fc", p, 7)
		}},
		{"cross-entropy", [][]int{{11, 7}, {11, 7}}, 1, true, func(s *Scope, in G.Nodes) (*G.Node, error) {
			return SoftmaxCrossEntropy(in[0], in[1]) // soft targets: any distribution works
		}},
	} {
		res := runBoth(t, c.shapes, c.fixed, c.training, c.build)
		for i := range res[0] {
			what := "output"
			if i > 0 {
				what = fmt.Sprintf("gradient %d", i-1)
			}
			if d := relDiff64(res[1][i], res[0][i]); d > 1e-4 {
				t.Errorf("%s: float32 %s differs from float64 by %.2e relative", c.name, what, d)
			}
		}
	}
}

func relDiff64(want, got []float64) float64 {
	var diff, scale float64
	for i := range want {
		diff = max(diff, abs64(want[i]-got[i]))
		scale = max(scale, abs64(want[i]))
	}
	if scale == 0 {
		return diff
	}
	return diff / scale
}

func abs64(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// TestDataChecksDtype: data reads a tensor's slice in its own dtype only.
func TestDataChecksDtype(t *testing.T) {
	f32 := tensor.New(tensor.WithShape(3), tensor.WithBacking([]float32{1, 2, 3}))
	if got := data[float32](f32); len(got) != 3 || got[2] != 3 {
		t.Fatalf("data[float32] = %v", got)
	}
	defer func() {
		if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "float32 tensor read as []float64") {
			t.Errorf("data[float64] of a float32 tensor: recovered %v, want a panic naming both types", r)
		}
	}()
	data[float64](f32)
}

// bnAddReLU is relu(bn(in[0]) + in[1]) as one op.
func bnAddReLU(s *Scope, in G.Nodes) (*G.Node, error) {
	bn, err := NewBatchNorm2d(s, "bn", in[0].Shape()[1], BNOptions{})
	if err != nil {
		return nil, err
	}
	return bn.AddReLU(in[0], in[1])
}
