package train

import (
	"github.com/gorgonia-zoo/resnet/layers"
	"github.com/gorgonia-zoo/resnet/models"
	"github.com/pkg/errors"
	G "gorgonia.org/gorgonia"
)

// Step is a model's training graph at a fixed batch size: input and one-hot
// target tensors, the cross-entropy loss, Gorgonia's symbolic gradients on a
// tape machine, a memory plan, and PyTorch's SGD. One iteration is Run then
// Update; nothing is allocated per iteration beyond Gorgonia's own
// bookkeeping.
type Step struct {
	model   *models.Model
	vm      G.VM
	x, y    []float32 // backing slices of the input and one-hot target tensors
	lossV   *G.Value  // read by the graph: not fields of Step (see NewStep)
	logitsV *G.Value
	params  G.Nodes
	batch   int
	classes int

	// Names and Weights list the learnables in the optimizer's order.
	Names   []string
	Weights [][]float32
	// Opt holds the momentum buffers.
	Opt *SGD

	gradScratch [][]float32
	gradViews   []f32View
	logitsView  f32View
}

// NewStep builds the training graph of m for batches of batch images.
func NewStep(m *models.Model, batch int, momentum, weightDecay float64) (*Step, error) {
	g := G.NewGraph()
	in := m.InputShape()
	xn, x := layers.Input(g, "input", batch, in[0], in[1], in[2])
	net, err := m.Build(g, xn)
	if err != nil {
		return nil, err
	}
	classes := net.Logits.Shape()[1]
	yn, y := layers.Input(g, "targets", batch, classes)
	loss, err := layers.SoftmaxCrossEntropy(net.Logits, yn)
	if err != nil {
		return nil, err
	}
	// Gorgonia's tape machine carries a finalizer, and Go never frees a
	// cycle through an object with one: the graph's Reads must point to
	// values of their own, not into s, which holds the machine.
	s := &Step{model: m, x: x, y: y, params: net.Learnables, batch: batch, classes: classes,
		lossV: new(G.Value), logitsV: new(G.Value)}
	G.Read(loss, s.lossV)
	G.Read(net.Logits, s.logitsV)
	if _, err := G.Grad(loss, net.Learnables...); err != nil {
		return nil, errors.Wrap(err, "gradients")
	}
	if _, err := layers.PlanMemory(g, net.Logits); err != nil {
		return nil, err
	}
	sizes := make([]int, len(s.params))
	for i, p := range s.params {
		e, ok := m.State().Get(p.Name())
		if !ok || e.Kind != layers.Learnable {
			return nil, errors.Errorf("learnable %s is not in the model's state", p.Name())
		}
		w, err := floats(e.Value)
		if err != nil {
			return nil, errors.Wrap(err, p.Name())
		}
		s.Names = append(s.Names, p.Name())
		s.Weights = append(s.Weights, w)
		sizes[i] = len(w)
	}
	s.Opt = NewSGD(sizes, momentum, weightDecay)
	s.vm = layers.NewMachine(g, G.BindDualValues(net.Learnables...))
	return s, nil
}

// Classes is the number of logits per image.
func (s *Step) Classes() int { return s.classes }

// Run computes the loss of a batch (images in NCHW, one label per image) and
// the gradients, and returns the mean loss and the number of misclassified
// images. The gradients wait in Grads for Update.
func (s *Step) Run(images []float32, labels []int) (loss float64, wrong int, err error) {
	if len(labels) != s.batch || len(images) < len(s.x) {
		return 0, 0, errors.Errorf("a batch of %d labels and %d values, want %d and %d", len(labels), len(images), s.batch, len(s.x))
	}
	copy(s.x, images)
	clear(s.y)
	for i, l := range labels {
		s.y[i*s.classes+l] = 1
	}
	err = s.vm.RunAll()
	s.vm.Reset()
	if err != nil {
		return 0, 0, err
	}
	if loss, err = layers.ScalarValue(*s.lossV); err != nil {
		return 0, 0, err
	}
	logits, err := s.logitsView.of(*s.logitsV)
	if err != nil {
		return 0, 0, err
	}
	_, wrong = lossAndErrors(logits, labels, len(labels), s.classes)
	return loss, wrong, nil
}

// Grads returns the gradients of the last Run, in the order of Names.
func (s *Step) Grads() ([][]float32, error) {
	if cap(s.gradScratch) < len(s.params) {
		s.gradScratch = make([][]float32, len(s.params))
		s.gradViews = make([]f32View, len(s.params))
	}
	gs := s.gradScratch[:len(s.params)]
	for i, p := range s.params {
		v, err := p.Grad()
		if err != nil {
			return nil, errors.Wrap(err, p.Name())
		}
		if gs[i], err = s.gradViews[i].of(v); err != nil {
			return nil, errors.Wrap(err, p.Name())
		}
		if len(gs[i]) != len(s.Weights[i]) {
			return nil, errors.Errorf("%s: gradient of %d values for %d weights", p.Name(), len(gs[i]), len(s.Weights[i]))
		}
	}
	return gs, nil
}

// Update takes one SGD step at learning rate lr with the gradients of the
// last Run, then zeroes them: Gorgonia adds every run's gradients to the
// previous ones.
func (s *Step) Update(lr float64) error {
	grads, err := s.Grads()
	if err != nil {
		return err
	}
	s.Opt.Step(s.Weights, grads, lr)
	for _, g := range grads {
		clear(g)
	}
	return nil
}

// Close releases the tape machine.
func (s *Step) Close() error { return layers.CloseMachine(s.vm) }
