package models

import (
	"math/rand"
	"testing"

	"github.com/gorgonia-zoo/resnet/internal/gradcheck"
	"github.com/gorgonia-zoo/resnet/layers"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// buildOnImages builds a fresh model (seed 5) on a batch of 4 random
// 32x32 images, and returns the random source it drew them from.
func buildOnImages(t *testing.T, name string) (*Model, *G.ExprGraph, *Net, *rand.Rand) {
	t.Helper()
	m, err := New(name, Options{Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewSource(1))
	g := G.NewGraph()
	x := gradcheck.Input(g, rng, "x", tensor.Float32, 4, m.InputShape()[0], 32, 32)
	net, err := m.Build(g, x)
	if err != nil {
		t.Fatal(err)
	}
	return m, g, net, rng
}

// trainStep runs one forward and backward pass of a fresh model and returns
// the loss, the logits and every gradient, with or without a memory plan.
func trainStep(t *testing.T, name string, plan bool) (float32, []float32, [][]float32) {
	t.Helper()
	_, g, net, rng := buildOnImages(t, name)
	classes := net.Logits.Shape()[1]
	targets := tensor.New(tensor.WithShape(4, classes), tensor.WithBacking(make([]float32, 4*classes)))
	for i := 0; i < 4; i++ {
		targets.Data().([]float32)[i*classes+rng.Intn(classes)] = 1
	}
	tn := G.NewTensor(g, tensor.Float32, 2, G.WithShape(4, classes), G.WithName("targets"), G.WithValue(targets))
	loss, err := layers.SoftmaxCrossEntropy(net.Logits, tn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := G.Grad(loss, net.Learnables...); err != nil {
		t.Fatal(err)
	}
	if plan {
		p, err := layers.PlanMemory(g, net.Logits)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %d outputs in %d buffers, %.1f MB instead of %.1f MB, %d batch norms' outputs and %d input gradients deferred", name, p.Outputs, p.Buffers, float64(p.Bytes)/1e6, float64(p.UnplanBytes)/1e6, p.Deferred, p.DeferredGrads)
		if p.Bytes*2 > p.UnplanBytes {
			t.Errorf("the plan saves less than half: %d of %d bytes", p.Bytes, p.UnplanBytes)
		}
		if want := deferrable[name]; p.Deferred != want.outputs || p.DeferredGrads != want.grads {
			t.Errorf("%s: %d batch norms' outputs deferred and %d input gradients, want %d and %d", name, p.Deferred, p.DeferredGrads, want.outputs, want.grads)
		}
	}
	vm := layers.NewMachine(g, G.BindDualValues(net.Learnables...))
	defer vm.Close()
	// Two steps, so that buffers are reused across runs as in training.
	var lossValue float32
	for step := 0; step < 2; step++ {
		for _, n := range net.Learnables {
			gv, _ := n.Grad()
			if gv != nil {
				clear(gv.Data().([]float32))
			}
		}
		if err := vm.RunAll(); err != nil {
			t.Fatal(err)
		}
		lossValue = float32(*loss.Value().(*G.F32))
		vm.Reset()
	}
	var grads [][]float32
	for _, n := range net.Learnables {
		gv, err := n.Grad()
		if err != nil {
			t.Fatal(err)
		}
		grads = append(grads, append([]float32(nil), gv.Data().([]float32)...))
	}
	return lossValue, append([]float32(nil), net.Logits.Value().Data().([]float32)...), grads
}

// deferrable is how many batch norms' outputs PlanMemory defers in a
// model, those with a ReLU and no residual that only stride-1 3x3
// convolutions read, and how many input gradients, those of the batch
// norms after a 3x3 convolution. The deferred outputs of a residual net
// are each basic block's first; a plain net's second ones and its stem's
// feed the next block too, but for the two that feed a stride-2
// convolution and the last, which feeds the pooling. Every batch norm of a
// CIFAR net follows a 3x3 convolution; ResNet-18's stem (7x7) and
// shortcuts (1x1) do not.
var deferrable = map[string]struct{ outputs, grads int }{
	"resnet20": {9, 19}, "plain20": {9 + 9 + 1 - 3, 19}, "resnet18": {8, 16}, "resnet56": {27, 55},
}

// TestMemoryPlanChangesNothing: with shared buffers and deferred batch
// norms, the loss, logits and every gradient are bitwise those of a graph
// with a buffer per output.
func TestMemoryPlanChangesNothing(t *testing.T) {
	for _, name := range []string{"resnet20", "plain20", "resnet18", "resnet56"} {
		l1, z1, g1 := trainStep(t, name, false)
		l2, z2, g2 := trainStep(t, name, true)
		if l1 != l2 || !equal(z1, z2) {
			t.Fatalf("%s: planned loss %v logits %v, unplanned %v %v", name, l2, z2[:4], l1, z1[:4])
		}
		for i := range g1 {
			if !equal(g1[i], g2[i]) {
				t.Fatalf("%s: gradient %d differs with the memory plan", name, i)
			}
		}
	}
}

// forwardRuns runs a forward-only graph of a fresh model, with or without
// a memory plan, once in training mode (which updates the running
// statistics) and then twice in evaluation mode, and returns the training
// run's logits and the last evaluation run's, and the plan.
func forwardRuns(t *testing.T, name string, plan bool) (train, eval []float32, p layers.MemoryPlan) {
	t.Helper()
	m, g, net, _ := buildOnImages(t, name)
	if plan {
		var err error
		if p, err = layers.PlanMemory(g, net.Logits); err != nil {
			t.Fatal(err)
		}
	}
	vm := layers.NewMachine(g)
	defer vm.Close()
	run := func() []float32 {
		if err := vm.RunAll(); err != nil {
			t.Fatal(err)
		}
		vm.Reset()
		return append([]float32(nil), net.Logits.Value().Data().([]float32)...)
	}
	m.SetTraining(true)
	train = run()
	m.SetTraining(false)
	run()
	return train, run(), p
}

// TestMemoryPlanInference: in a forward-only graph, the batch norms with a
// residual that the convolution before them applies in evaluation mode
// leave the logits bitwise those of a graph without a plan, in training
// mode (where they normalize in place) and in evaluation mode. They are
// each block's last batch norm but where the block's shortcut runs after
// its convolution (ResNet-20's two subsampling shortcuts, ResNet-18's three
// and ResNet-50's four projections).
func TestMemoryPlanInference(t *testing.T) {
	for name, want := range map[string]int{"resnet20": 7, "plain20": 0, "resnet18": 5, "resnet50": 12} {
		train1, eval1, _ := forwardRuns(t, name, false)
		train2, eval2, p := forwardRuns(t, name, true)
		if p.InConv != want {
			t.Errorf("%s: %d batch norms applied by their convolution, want %d", name, p.InConv, want)
		}
		if !equal(train1, train2) {
			t.Errorf("%s: training-mode logits %v with the memory plan, %v without", name, train2[:4], train1[:4])
		}
		if !equal(eval1, eval2) {
			t.Errorf("%s: evaluation-mode logits %v with the memory plan, %v without", name, eval2[:4], eval1[:4])
		}
	}
}
