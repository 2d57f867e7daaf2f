package models_test

import (
	"fmt"

	"github.com/gorgonia-zoo/resnet/models"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Build a model by name, look at its size, and add it to a graph.
func ExampleNew() {
	m, err := models.New("resnet56", models.Options{Seed: 1})
	if err != nil {
		panic(err)
	}
	fmt.Println(m.Name(), m.NumParams(), "parameters,", m.MACs(), "MACs per image")

	g := G.NewGraph()
	x := G.NewTensor(g, tensor.Float32, 4, G.WithShape(2, 3, 32, 32), G.WithName("images"))
	net, err := m.Build(g, x)
	if err != nil {
		panic(err)
	}
	fmt.Println("logits", net.Logits.Shape(), "from", len(net.Learnables), "learnable tensors, the first", net.Learnables[0].Name())

	_, err = models.New("resnet21", models.Options{})
	fmt.Println(err != nil)
	// Output:
	// resnet56 853018 parameters, 125485696 MACs per image
	// logits (2, 10) from 167 learnable tensors, the first conv1.weight
	// true
}
