package models

import (
	"math/rand"
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
	vm := G.NewTapeMachine(g)
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
