package layers

import (
	"github.com/pkg/errors"
	"gorgonia.org/tensor"
)

// Kind tells whether a tensor of a State is trained by the optimizer or is a
// buffer the layers update themselves (batch-norm running statistics).
type Kind int

const (
	// Learnable tensors receive gradients: weights, biases, BN gamma and beta.
	Learnable Kind = iota
	// Buffer tensors are updated in the forward pass: running mean, running
	// variance and num_batches_tracked of batch normalization.
	Buffer
)

// Entry is one named tensor of a State.
type Entry struct {
	Name  string
	Kind  Kind
	Value *tensor.Dense
}

// State holds a model's tensors under their torchvision state_dict names
// (conv1.weight, bn1.running_mean, fc.bias, ...) in creation order. Graphs
// built from the same State share its tensors: a training step that updates
// them is seen at once by an inference graph of the same model.
type State struct {
	entries []*Entry
	index   map[string]*Entry
}

// NewState returns an empty State.
func NewState() *State { return &State{index: map[string]*Entry{}} }

// Get returns the entry called name.
func (s *State) Get(name string) (*Entry, bool) {
	e, ok := s.index[name]
	return e, ok
}

// Entries returns every entry in creation order.
func (s *State) Entries() []*Entry { return s.entries }

// Names returns every name in creation order.
func (s *State) Names() []string {
	names := make([]string, len(s.entries))
	for i, e := range s.entries {
		names[i] = e.Name
	}
	return names
}

// Learnables returns the learnable entries in creation order.
func (s *State) Learnables() []*Entry {
	var out []*Entry
	for _, e := range s.entries {
		if e.Kind == Learnable {
			out = append(out, e)
		}
	}
	return out
}

// NumLearnable returns the number of learnable scalars, the figure papers and
// torchvision call the parameter count.
func (s *State) NumLearnable() int {
	n := 0
	for _, e := range s.Learnables() {
		n += e.Value.Shape().TotalSize()
	}
	return n
}

// add registers a new entry; the name must be unused.
func (s *State) add(name string, kind Kind, v *tensor.Dense) (*Entry, error) {
	if _, dup := s.index[name]; dup {
		return nil, errors.Errorf("state: tensor %q defined twice", name)
	}
	e := &Entry{Name: name, Kind: kind, Value: v}
	s.entries = append(s.entries, e)
	s.index[name] = e
	return e, nil
}
