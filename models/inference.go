package models

import (
	"github.com/gorgonia-zoo/resnet/layers"
	"github.com/pkg/errors"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Inference runs a model forward only, at a fixed batch size, with batch
// norm in evaluation mode: a graph with no gradient nodes, whose buffers are
// shared by liveness (layers.PlanMemory) and reused from batch to batch.
type Inference struct {
	m       *Model
	vm      G.VM
	input   []float32
	logits  *G.Value // see NewInference
	batch   int
	classes int
}

// NewInference builds m's forward graph for batches of batch float32 images
// of the model's input shape, or of (channels, height, width) when given.
func NewInference(m *Model, batch int, chw ...int) (*Inference, error) {
	if m.opts.Dtype != tensor.Float32 {
		return nil, errors.Errorf("%s: inference runs float32 models, this one is %v", m.name, m.opts.Dtype)
	}
	if len(chw) == 0 {
		chw = m.InputShape()
	}
	if batch <= 0 || len(chw) != 3 {
		return nil, errors.Errorf("%s: inference batch %d of images %v, want a positive batch of (C, H, W)", m.name, batch, chw)
	}
	g := G.NewGraph()
	x, back := layers.Input(g, "input", append([]int{batch}, chw...)...)
	net, err := m.Build(g, x)
	if err != nil {
		return nil, err
	}
	// Gorgonia's tape machine carries a finalizer, and Go never frees a
	// cycle through an object with one: the graph's Read must point to a
	// value of its own, not into inf, which holds the machine.
	inf := &Inference{m: m, input: back, batch: batch, classes: net.Logits.Shape()[1], logits: new(G.Value)}
	G.Read(net.Logits, inf.logits)
	if _, err := layers.PlanMemory(g, net.Logits); err != nil {
		return nil, err
	}
	inf.vm = layers.NewMachine(g)
	return inf, nil
}

// Batch is the number of images Run takes.
func (inf *Inference) Batch() int { return inf.batch }

// Classes is the number of logits per image.
func (inf *Inference) Classes() int { return inf.classes }

// Input is the graph's input buffer, batch images in NCHW: fill it, then Run.
func (inf *Inference) Input() []float32 { return inf.input }

// Run computes the logits (batch x classes) of the images in Input, with
// the model in evaluation mode (restored afterwards). The slice is reused by
// the next Run.
func (inf *Inference) Run() ([]float32, error) {
	training := inf.m.Training()
	inf.m.SetTraining(false)
	defer inf.m.SetTraining(training)
	err := inf.vm.RunAll()
	inf.vm.Reset()
	if err != nil {
		return nil, errors.Wrapf(err, "%s: inference", inf.m.name)
	}
	return (*inf.logits).Data().([]float32), nil
}

// Close releases the graph's machine.
func (inf *Inference) Close() error { return layers.CloseMachine(inf.vm) }
