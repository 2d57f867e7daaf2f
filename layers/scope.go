package layers

import (
	"math/rand"

	"github.com/pkg/errors"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Mode is the train/eval switch of one model. Every batch-norm layer built
// with a Scope reads its Mode at run time, so flipping it changes how the
// next forward pass normalizes without touching the running statistics.
type Mode struct{ training bool }

// NewMode returns a Mode, training or not.
func NewMode(training bool) *Mode { return &Mode{training: training} }

// Training reports whether batch norm uses batch statistics (and updates the
// running ones) rather than the running statistics.
func (m *Mode) Training() bool { return m.training }

// SetTraining switches between training and evaluation.
func (m *Mode) SetTraining(training bool) { m.training = training }

// Scope is where layers are built: a graph, the State that holds their
// tensors, a name prefix, the dtype, the train/eval Mode and the random source
// for initialization. Sub scopes share all of it but the prefix.
type Scope struct {
	g      *G.ExprGraph
	state  *State
	dtype  tensor.Dtype
	mode   *Mode
	rng    *rand.Rand
	prefix string
	// learnables collects every learnable node built through this scope and
	// its sub scopes, in creation order.
	learnables *G.Nodes
	infos      *[]Info
}

// NewScope returns a root scope on g whose tensors live in state. Tensors
// missing from state are created and initialized from a source seeded with
// seed; tensors already there are reused, so building the same model twice
// from one State gives two graphs over the same weights.
func NewScope(g *G.ExprGraph, state *State, dtype tensor.Dtype, mode *Mode, seed int64) *Scope {
	return &Scope{
		g: g, state: state, dtype: dtype, mode: mode,
		rng:        rand.New(rand.NewSource(seed)),
		learnables: &G.Nodes{},
		infos:      &[]Info{},
	}
}

// Sub returns a scope whose names are prefixed with name and a dot, as
// torchvision nests modules: s.Sub("layer1").Sub("0") names "layer1.0.conv1.weight".
func (s *Scope) Sub(name string) *Scope {
	c := *s
	c.prefix = s.prefix + name + "."
	return &c
}

// Graph returns the scope's expression graph.
func (s *Scope) Graph() *G.ExprGraph { return s.g }

// Dtype returns the element type of the tensors the scope creates.
func (s *Scope) Dtype() tensor.Dtype { return s.dtype }

// Mode returns the train/eval switch shared by the scope's layers.
func (s *Scope) Mode() *Mode { return s.mode }

// State returns the tensors behind the scope.
func (s *Scope) State() *State { return s.state }

// Learnables returns the learnable nodes built so far through the scope tree,
// in creation order.
func (s *Scope) Learnables() G.Nodes { return *s.learnables }

// Name returns the full name of a tensor called name in this scope.
func (s *Scope) Name(name string) string { return s.prefix + name }

// initFn fills a freshly created tensor.
type initFn func(rng *rand.Rand, data any)

// tensorFor returns the State's tensor called name, creating it with init
// when missing. An existing tensor of another shape or dtype is an error.
func (s *Scope) tensorFor(name string, kind Kind, dt tensor.Dtype, shape tensor.Shape, init initFn) (*tensor.Dense, error) {
	full := s.Name(name)
	if e, ok := s.state.Get(full); ok {
		if !e.Value.Shape().Eq(shape) || e.Value.Dtype() != dt {
			return nil, errors.Errorf("%s: state holds %v %v, the layer needs %v %v", full, e.Value.Dtype(), e.Value.Shape(), dt, shape)
		}
		return e.Value, nil
	}
	t := tensor.New(tensor.Of(dt), tensor.WithShape(shape...))
	if init != nil {
		init(s.rng, t.Data())
	}
	if _, err := s.state.add(full, kind, t); err != nil {
		return nil, err
	}
	return t, nil
}

// param returns a learnable node called name, backed by the State.
func (s *Scope) param(name string, shape tensor.Shape, init initFn) (*G.Node, error) {
	t, err := s.tensorFor(name, Learnable, s.dtype, shape, init)
	if err != nil {
		return nil, err
	}
	n := G.NewTensor(s.g, s.dtype, len(shape), G.WithShape(shape...), G.WithName(s.Name(name)), G.WithValue(t))
	*s.learnables = append(*s.learnables, n)
	return n, nil
}

// buffer returns a State tensor that is not a graph input: running statistics.
func (s *Scope) buffer(name string, dt tensor.Dtype, shape tensor.Shape, init initFn) (*tensor.Dense, error) {
	return s.tensorFor(name, Buffer, dt, shape, init)
}
