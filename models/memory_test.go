package models

import (
	"math/rand"
	"testing"

	"github.com/gorgonia-zoo/resnet/internal/gradcheck"
	"github.com/gorgonia-zoo/resnet/layers"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// trainStep runs one forward and backward pass of a fresh model and returns
// the loss, the logits and every gradient, with or without a memory plan.
func trainStep(t *testing.T, name string, plan bool) (float32, []float32, [][]float32) {
	t.Helper()
	m, err := New(name, Options{Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewSource(1))
	g := G.NewGraph()
	in := m.InputShape()
	size := 32
	x := gradcheck.Input(g, rng, "x", tensor.Float32, 4, in[0], size, size)
	net, err := m.Build(g, x)
	if err != nil {
		t.Fatal(err)
	}
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
