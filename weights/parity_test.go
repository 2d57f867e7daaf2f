package weights

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/gorgonia-zoo/resnet/blocks"
	"github.com/gorgonia-zoo/resnet/layers"
	"github.com/gorgonia-zoo/resnet/models"
	"github.com/gorgonia-zoo/resnet/safetensors"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// The fixtures in testdata/parity come from scripts/parity/make_fixtures.py
// (PyTorch 1.13, float64 networks with float32-representable weights).

// parityNet is a network under test: build adds it to g on x and returns
// its logits and learnables, by name.
type parityNet struct {
	state *layers.State
	mode  *layers.Mode
	build func(g *G.ExprGraph, x *G.Node) (*G.Node, G.Nodes, error)
}

// zooNet wraps a models.Model.
func zooNet(t *testing.T, name string, dt tensor.Dtype) parityNet {
	m, err := models.New(name, models.Options{Dtype: dt})
	if err != nil {
		t.Fatal(err)
	}
	mode := layers.NewMode(true)
	return parityNet{state: m.State(), mode: mode, build: func(g *G.ExprGraph, x *G.Node) (*G.Node, G.Nodes, error) {
		m.SetTraining(mode.Training())
		net, err := m.Build(g, x)
		if err != nil {
			return nil, nil, err
		}
		return net.Logits, net.Learnables, nil
	}}
}

// bottleneckNet is make_fixtures.py's TinyBottleneckResNet: torchvision's
// ResNet layout (7x7/2 stem, max pool, Bottleneck stages with option-B
// downsample, average pool, fc) with one block per stage, an 8-channel stem
// and 4/8/16/32 planes, built as models.buildImageNet builds resnet50.
func bottleneckNet(t *testing.T, dt tensor.Dtype) parityNet {
	st, mode := layers.NewState(), layers.NewMode(true)
	build := func(g *G.ExprGraph, x *G.Node) (*G.Node, G.Nodes, error) {
		s := layers.NewScope(g, st, dt, mode, 1)
		x, err := layers.Conv2d(s, "conv1", x, 8, 7, 2, 3)
		if err == nil {
			x, err = layers.BatchNorm2d(s, "bn1", x, layers.BNOptions{ReLU: true})
		}
		if err == nil {
			x, err = layers.MaxPool2d(s, "maxpool", x, 3, 2, 1)
		}
		for i, planes := range []int{4, 8, 16, 32} {
			if err != nil {
				break
			}
			b := blocks.Bottleneck{Planes: planes, Stride: min(i+1, 2), Options: blocks.Options{Shortcut: blocks.ShortcutB}}
			x, _, err = b.Build(s.Sub(fmt.Sprintf("layer%d", i+1)).Sub("0"), x)
		}
		if err == nil {
			x, err = layers.GlobalAvgPool(x)
		}
		if err == nil {
			x, err = layers.Linear(s, "fc", x, 10)
		}
		return x, s.Learnables(), err
	}
	// Create the State.
	g := G.NewGraph()
	if _, _, err := build(g, G.NewTensor(g, dt, 4, G.WithShape(1, 3, 48, 48), G.WithName("input"))); err != nil {
		t.Fatal(err)
	}
	return parityNet{state: st, mode: mode, build: build}
}

// floats returns a tensor or value's elements as float64s.
func floats(t *testing.T, v any) []float64 {
	t.Helper()
	switch d := v.(type) {
	case []float32:
		out := make([]float64, len(d))
		for i, x := range d {
			out[i] = float64(x)
		}
		return out
	case []float64:
		return append([]float64(nil), d...)
	case float32:
		return []float64{float64(d)}
	case float64:
		return []float64{d}
	}
	t.Fatalf("unexpected value type %T", v)
	return nil
}

// fixtureFloats decodes an F32 or F64 fixture tensor.
func fixtureFloats(t *testing.T, f *safetensors.File, name string) []float64 {
	t.Helper()
	tn, ok := f.Get(name)
	if !ok {
		t.Fatalf("fixture has no %s", name)
	}
	if tn.DType == safetensors.F32 {
		v, err := tn.Float32s()
		if err != nil {
			t.Fatal(err)
		}
		return floats(t, v)
	}
	v, err := tn.Float64s()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// maxAbsDiff returns max |a-b| and max |b|.
func maxAbsDiff(t *testing.T, what string, a, b []float64) (diff, scale float64) {
	t.Helper()
	if len(a) != len(b) {
		t.Fatalf("%s: %d values, want %d", what, len(a), len(b))
	}
	for i := range a {
		diff = math.Max(diff, math.Abs(a[i]-b[i]))
		scale = math.Max(scale, math.Abs(b[i]))
	}
	return diff, scale
}

// tolerances are the parity bars: absolute for logits and loss, relative
// to the largest magnitude of each gradient tensor for gradients.
type tolerances struct{ logits, loss, grad float64 }

func runParity(t *testing.T, fixture string, net parityNet, dt tensor.Dtype, tol tolerances) {
	wf, err := safetensors.ReadFile("../testdata/parity/" + fixture + ".safetensors")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := LoadState(net.state, wf, LoadOptions{}); err != nil {
		t.Fatal(err)
	}
	io, err := safetensors.ReadFile("../testdata/parity/" + fixture + "_io.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	in, _ := io.Get("input")
	xs := fixtureFloats(t, io, "input")
	target, _ := io.Get("target")
	classes, err := target.Int64s()
	if err != nil {
		t.Fatal(err)
	}
	n, k := in.Shape[0], 10
	newInput := func(g *G.ExprGraph) *G.Node {
		var x *tensor.Dense
		if dt == tensor.Float32 {
			v := make([]float32, len(xs))
			for i := range xs {
				v[i] = float32(xs[i])
			}
			x = tensor.New(tensor.WithShape(in.Shape...), tensor.WithBacking(v))
		} else {
			x = tensor.New(tensor.WithShape(in.Shape...), tensor.WithBacking(append([]float64(nil), xs...)))
		}
		return G.NewTensor(g, dt, 4, G.WithShape(in.Shape...), G.WithName("x"), G.WithValue(x))
	}

	// Evaluation mode first: the training pass updates the running statistics.
	net.mode.SetTraining(false)
	g := G.NewGraph()
	logits, _, err := net.build(g, newInput(g))
	if err != nil {
		t.Fatal(err)
	}
	var out G.Value
	G.Read(logits, &out)
	vm := G.NewTapeMachine(g)
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	vm.Close()
	d, _ := maxAbsDiff(t, "eval logits", floats(t, out.Data()), fixtureFloats(t, io, "logits_eval"))
	t.Logf("%s %v eval logits: max abs diff %.3g", fixture, dt, d)
	if d > tol.logits {
		t.Errorf("eval logits differ from PyTorch's by %.3g, more than %g", d, tol.logits)
	}

	// One training-mode step: loss and gradients.
	net.mode.SetTraining(true)
	g = G.NewGraph()
	logits, learnables, err := net.build(g, newInput(g))
	if err != nil {
		t.Fatal(err)
	}
	onehot := tensor.New(tensor.Of(dt), tensor.WithShape(n, k))
	for i, c := range classes {
		onehot.SetAt(oneOf(dt), i, int(c))
	}
	y := G.NewTensor(g, dt, 2, G.WithShape(n, k), G.WithName("y"), G.WithValue(onehot))
	loss, err := layers.SoftmaxCrossEntropy(logits, y)
	if err != nil {
		t.Fatal(err)
	}
	var lossV, trainLogits G.Value
	G.Read(loss, &lossV)
	G.Read(logits, &trainLogits)
	if _, err := G.Grad(loss, learnables...); err != nil {
		t.Fatal(err)
	}
	vm = G.NewTapeMachine(g, G.BindDualValues(learnables...))
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	d, _ = maxAbsDiff(t, "train logits", floats(t, trainLogits.Data()), fixtureFloats(t, io, "logits_train"))
	if d > tol.logits {
		t.Errorf("training-mode logits differ from PyTorch's by %.3g, more than %g", d, tol.logits)
	}
	d, _ = maxAbsDiff(t, "loss", floats(t, lossV.Data()), fixtureFloats(t, io, "loss"))
	t.Logf("%s %v loss: abs diff %.3g", fixture, dt, d)
	if d > tol.loss {
		t.Errorf("loss differs from PyTorch's by %.3g, more than %g", d, tol.loss)
	}
	byName := map[string]*G.Node{}
	for _, l := range learnables {
		byName[l.Name()] = l
	}
	worst, checked := 0.0, 0
	for _, tn := range io.Tensors {
		if name, ok := strings.CutPrefix(tn.Name, "grad."); ok {
			node := byName[name]
			if node == nil {
				t.Fatalf("no learnable %s", name)
			}
			grad, err := node.Grad()
			if err != nil {
				t.Fatal(err)
			}
			diff, scale := maxAbsDiff(t, tn.Name, floats(t, grad.Data()), fixtureFloats(t, io, tn.Name))
			rel := diff / scale
			worst = math.Max(worst, rel)
			checked++
			if rel > tol.grad {
				t.Errorf("gradient of %s: max abs diff %.3g is %.3g of its largest element, more than %g", name, diff, rel, tol.grad)
			}
		}
		if name, ok := strings.CutPrefix(tn.Name, "after."); ok {
			e, _ := net.state.Get(name)
			var got []float64
			if e.Value.Dtype() == tensor.Int64 {
				got = []float64{float64(e.Value.Int64s()[0])}
			} else {
				got = floats(t, e.Value.Data())
			}
			var want []float64
			if tn.DType == safetensors.I64 {
				v, _ := tn.Int64s()
				want = []float64{float64(v[0])}
			} else {
				want = fixtureFloats(t, io, tn.Name)
			}
			if diff, scale := maxAbsDiff(t, tn.Name, got, want); diff > tol.grad*math.Max(scale, 1) {
				t.Errorf("%s after the training pass differs from PyTorch's by %.3g", name, diff)
			}
		}
	}
	t.Logf("%s %v: %d gradients, worst max-abs-diff / max-abs %.3g", fixture, dt, checked, worst)
}

func oneOf(dt tensor.Dtype) any {
	if dt == tensor.Float32 {
		return float32(1)
	}
	return float64(1)
}

// The bars of float64 are what float64 arithmetic in a different order
// leaves; float32's are the issue's: logits 1e-4, loss 1e-5, gradients 1e-3.
var (
	tol64 = tolerances{logits: 1e-10, loss: 1e-12, grad: 1e-9}
	tol32 = tolerances{logits: 1e-4, loss: 1e-5, grad: 1e-3}
)

// TestParityPlain20: the plain nets use the fused BN+ReLU at the end of
// every block, where the ResNets add the shortcut first.
func TestParityPlain20(t *testing.T) {
	t.Run("float64", func(t *testing.T) {
		runParity(t, "plain20", zooNet(t, "plain20", tensor.Float64), tensor.Float64, tol64)
	})
	t.Run("float32", func(t *testing.T) {
		runParity(t, "plain20", zooNet(t, "plain20", tensor.Float32), tensor.Float32, tol32)
	})
}

func TestParityResNet20(t *testing.T) {
	t.Run("float64", func(t *testing.T) {
		runParity(t, "resnet20", zooNet(t, "resnet20", tensor.Float64), tensor.Float64, tol64)
	})
	t.Run("float32", func(t *testing.T) {
		runParity(t, "resnet20", zooNet(t, "resnet20", tensor.Float32), tensor.Float32, tol32)
	})
}

func TestParityBottleneck(t *testing.T) {
	t.Run("float64", func(t *testing.T) {
		runParity(t, "bottleneck", bottleneckNet(t, tensor.Float64), tensor.Float64, tol64)
	})
	t.Run("float32", func(t *testing.T) {
		runParity(t, "bottleneck", bottleneckNet(t, tensor.Float32), tensor.Float32, tol32)
	})
}
