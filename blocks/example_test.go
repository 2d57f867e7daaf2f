package blocks_test

import (
	"fmt"

	"github.com/gorgonia-zoo/resnet/blocks"
	"github.com/gorgonia-zoo/resnet/layers"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Build a BasicBlock into your own graph, on your own input node, and train
// its learnables with anything Gorgonia differentiates.
func ExampleBasicBlock() {
	g := G.NewGraph()
	x := G.NewTensor(g, tensor.Float32, 4, G.WithShape(8, 64, 16, 16), G.WithName("x"))

	// The Scope holds the block's tensors (named as torchvision names them)
	// and the train/eval switch of its batch norms.
	s := layers.NewScope(g, layers.NewState(), tensor.Float32, layers.NewMode(true), 42)
	block := blocks.BasicBlock{Planes: 128, Stride: 2, Options: blocks.Options{Shortcut: blocks.ShortcutB}}
	y, learnables, err := block.Build(s.Sub("layer2").Sub("0"), x)
	if err != nil {
		panic(err)
	}
	fmt.Println("output", y.Shape())
	for _, n := range learnables {
		fmt.Println(n.Name(), n.Shape())
	}

	cost := G.Must(G.Mean(y))
	if _, err := G.Grad(cost, learnables...); err != nil {
		panic(err)
	}
	// Gorgonia's tape machine, with the sums of gradients on all cores.
	vm := layers.NewMachine(g, G.BindDualValues(learnables...))
	defer layers.CloseMachine(vm)
	// Output:
	// output (8, 128, 8, 8)
	// layer2.0.conv1.weight (128, 64, 3, 3)
	// layer2.0.bn1.weight (128)
	// layer2.0.bn1.bias (128)
	// layer2.0.conv2.weight (128, 128, 3, 3)
	// layer2.0.bn2.weight (128)
	// layer2.0.bn2.bias (128)
	// layer2.0.downsample.0.weight (128, 64, 1, 1)
	// layer2.0.downsample.1.weight (128)
	// layer2.0.downsample.1.bias (128)
}
