package models

import (
	"math"
	"math/rand"
	"runtime"
	"testing"

	"github.com/gorgonia-zoo/resnet/blocks"
	"github.com/gorgonia-zoo/resnet/internal/gradcheck"
	"github.com/gorgonia-zoo/resnet/layers"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// TestModelLossGradients checks the cross-entropy loss of whole models,
// residual (options A and B) and plain, against finite differences for
// every parameter tensor (conv, BN gamma and beta, fc weight and bias).
func TestModelLossGradients(t *testing.T) {
	for _, c := range []struct {
		name     string
		shortcut blocks.Shortcut
	}{{"resnet20", blocks.ShortcutA}, {"resnet20", blocks.ShortcutB}, {"plain20", 0}} {
		t.Run(c.name+string(c.shortcut), func(t *testing.T) {
			m, err := New(c.name, Options{Dtype: tensor.Float64, Shortcut: c.shortcut, Seed: 3})
			if err != nil {
				t.Fatal(err)
			}
			rng := rand.New(rand.NewSource(1))
			g := G.NewGraph()
			x := gradcheck.Input(g, rng, "x", tensor.Float64, 2, 3, 8, 8)
			net, err := m.Build(g, x)
			if err != nil {
				t.Fatal(err)
			}
			targets := tensor.New(tensor.WithShape(2, 10), tensor.WithBacking(make([]float64, 20)))
			targets.Data().([]float64)[3], targets.Data().([]float64)[17] = 1, 1
			tn := G.NewTensor(g, tensor.Float64, 2, G.WithShape(2, 10), G.WithName("targets"), G.WithValue(targets))
			loss, err := layers.SoftmaxCrossEntropy(net.Logits, tn)
			if err != nil {
				t.Fatal(err)
			}
			res, err := gradcheck.Check(g, loss, net.Learnables, 1e-3, 2, 1)
			if err != nil {
				t.Fatal(err)
			}
			worst := 0.0
			for _, r := range res {
				worst = max(worst, r.WorstRel)
				if r.WorstRel > gradcheck.Tolerance {
					t.Errorf("%s: worst relative gradient error %.2e", r.Name, r.WorstRel)
				}
			}
			t.Logf("%d parameter tensors, worst relative error %.1e", len(res), worst)
		})
	}
}

// TestTrainEvalRoundTrip: switching a model to eval and back keeps its
// running statistics, and eval forward passes do not change them.
func TestTrainEvalRoundTrip(t *testing.T) {
	m, err := New("resnet20", Options{})
	if err != nil {
		t.Fatal(err)
	}
	g := G.NewGraph()
	x := gradcheck.Input(g, rand.New(rand.NewSource(1)), "x", tensor.Float32, 4, 3, 32, 32)
	if _, err := m.Build(g, x); err != nil {
		t.Fatal(err)
	}
	vm := layers.NewMachine(g)
	defer vm.Close()
	run := func() {
		t.Helper()
		defer vm.Reset()
		if err := vm.RunAll(); err != nil {
			t.Fatal(err)
		}
	}
	rm, _ := m.State().Get("layer2.1.bn1.running_mean")
	snapshot := func() []float32 { return append([]float32(nil), rm.Value.Data().([]float32)...) }
	run()
	afterTrain := snapshot()
	m.SetTraining(false)
	run()
	run()
	if got := snapshot(); !equal(got, afterTrain) {
		t.Fatal("eval forward passes changed the running statistics")
	}
	m.SetTraining(true)
	if got := snapshot(); !equal(got, afterTrain) {
		t.Fatal("switching back to training reset the running statistics")
	}
	run()
	if got := snapshot(); equal(got, afterTrain) {
		t.Fatal("a training pass after the round trip did not update the running statistics")
	}
	// A second model in the same process is untouched by all of this.
	other, err := New("resnet20", Options{})
	if err != nil {
		t.Fatal(err)
	}
	orm, _ := other.State().Get("layer2.1.bn1.running_mean")
	for _, v := range orm.Value.Data().([]float32) {
		if v != 0 {
			t.Fatal("a second model's running mean is not its own")
		}
	}
	if !other.Training() {
		t.Fatal("a new model should start in training mode")
	}
}

func equal(a, b []float32) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return len(a) == len(b)
}

// TestGradientsIndependentOfThreads computes a float32 ResNet-20's loss
// gradients (batch 16, several convolution chunks per stage) with one
// worker and with two, three and four, and requires them bit for bit
// equal: the ops cut their work into pieces that any worker may take (the
// shifted convolutions' pieces include the half chunks that end each half
// of the batch, see shiftedLayout.chunks), and every sum runs in an order
// fixed by the batch alone, so a run reproduces on a machine with another
// number of cores.
func TestGradientsIndependentOfThreads(t *testing.T) {
	grads := func(threads int) [][]float32 {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(threads))
		m, err := New("resnet20", Options{Seed: 5})
		if err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewSource(2))
		g := G.NewGraph()
		x := gradcheck.Input(g, rng, "x", tensor.Float32, 16, 3, 32, 32)
		net, err := m.Build(g, x)
		if err != nil {
			t.Fatal(err)
		}
		targets := tensor.New(tensor.WithShape(16, 10), tensor.WithBacking(make([]float32, 160)))
		for i := 0; i < 16; i++ {
			targets.Data().([]float32)[i*10+i%10] = 1
		}
		tn := G.NewTensor(g, tensor.Float32, 2, G.WithShape(16, 10), G.WithName("targets"), G.WithValue(targets))
		loss, err := layers.SoftmaxCrossEntropy(net.Logits, tn)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := G.Grad(loss, net.Learnables...); err != nil {
			t.Fatal(err)
		}
		vm := layers.NewMachine(g, G.BindDualValues(net.Learnables...))
		defer vm.Close()
		if err := vm.RunAll(); err != nil {
			t.Fatal(err)
		}
		var out [][]float32
		for _, n := range net.Learnables {
			d, err := n.Grad()
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, append([]float32(nil), d.Data().([]float32)...))
		}
		return out
	}
	one := grads(1)
	for _, threads := range []int{2, 3, 4} {
		other := grads(threads)
		for i := range one {
			for j := range one[i] {
				if math.Float32bits(one[i][j]) != math.Float32bits(other[i][j]) {
					t.Fatalf("parameter %d, element %d: %g with one worker, %g with %d", i, j, one[i][j], other[i][j], threads)
				}
			}
		}
	}
}
