package layers_test

import (
	"fmt"
	"log"

	"github.com/gorgonia-zoo/resnet/layers"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// A residual unit relu(conv(x) + x) trained for one step's gradients: x
// feeds both the convolution and the addition, so the machine sums its two
// gradients, on all cores in a machine from NewMachine.
func ExampleNewMachine() {
	g := G.NewGraph()
	s := layers.NewScope(g, layers.NewState(), tensor.Float32, layers.NewMode(true), 1)
	x := G.NewTensor(g, tensor.Float32, 4, G.WithShape(2, 4, 8, 8), G.WithName("x"), G.WithInit(G.Gaussian(0, 1)))
	conv, err := layers.Conv2d(s, "conv", x, 4, 3, 1, 1)
	if err != nil {
		log.Fatal(err)
	}
	y, err := layers.AddReLU(conv, x)
	if err != nil {
		log.Fatal(err)
	}
	cost := G.Must(G.Mean(y))
	if _, err := G.Grad(cost, append(G.Nodes{x}, s.Learnables()...)...); err != nil {
		log.Fatal(err)
	}
	vm := layers.NewMachine(g, G.BindDualValues(append(G.Nodes{x}, s.Learnables()...)...))
	defer layers.CloseMachine(vm)
	if err := vm.RunAll(); err != nil {
		log.Fatal(err)
	}
	dx, err := x.Grad()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("x's gradient:", dx.Shape())
	// Output: x's gradient: (2, 4, 8, 8)
}
