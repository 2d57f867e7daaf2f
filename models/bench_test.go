package models

import (
	"math/rand"
	"testing"

	"github.com/gorgonia-zoo/resnet/internal/gradcheck"
	"github.com/gorgonia-zoo/resnet/layers"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// benchStep times forward, loss and backward of a model at a batch size:
// the graph work of one training step (the optimizer update is the
// trainer's and costs little).
func benchStep(b *testing.B, name string, batch int, train bool) {
	m, err := New(name, Options{})
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewSource(1))
	g := G.NewGraph()
	in := m.InputShape()
	x := gradcheck.Input(g, rng, "x", tensor.Float32, batch, in[0], in[1], in[2])
	net, err := m.Build(g, x)
	if err != nil {
		b.Fatal(err)
	}
	var vm G.VM
	if train {
		classes := net.Logits.Shape()[1]
		targets := tensor.New(tensor.WithShape(batch, classes), tensor.WithBacking(make([]float32, batch*classes)))
		for i := 0; i < batch; i++ {
			targets.Data().([]float32)[i*classes+rng.Intn(classes)] = 1
		}
		tn := G.NewTensor(g, tensor.Float32, 2, G.WithShape(batch, classes), G.WithName("targets"), G.WithValue(targets))
		loss, err := layers.SoftmaxCrossEntropy(net.Logits, tn)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := G.Grad(loss, net.Learnables...); err != nil {
			b.Fatal(err)
		}
		if _, err := layers.PlanMemory(g, net.Logits); err != nil {
			b.Fatal(err)
		}
		vm = layers.NewMachine(g, G.BindDualValues(net.Learnables...))
	} else {
		m.SetTraining(false)
		vm = layers.NewMachine(g)
	}
	defer vm.Close()
	step := func() {
		if err := vm.RunAll(); err != nil {
			b.Fatal(err)
		}
		vm.Reset()
	}
	step()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		step()
	}
	b.ReportMetric(float64(batch*b.N)/b.Elapsed().Seconds(), "img/s")
}

func BenchmarkResNet20TrainStep(b *testing.B) { benchStep(b, "resnet20", 128, true) }
func BenchmarkResNet20Infer(b *testing.B)     { benchStep(b, "resnet20", 128, false) }
func BenchmarkResNet56TrainStep(b *testing.B) { benchStep(b, "resnet56", 128, true) }
