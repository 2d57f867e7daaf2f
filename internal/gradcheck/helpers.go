package gradcheck

import (
	"math/rand"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Tolerance is the worst relative error the zoo's gradient checks accept.
const Tolerance = 1e-6

// RandTensor returns a tensor of standard normal values.
func RandTensor(rng *rand.Rand, dt tensor.Dtype, shape ...int) *tensor.Dense {
	t := tensor.New(tensor.Of(dt), tensor.WithShape(shape...))
	switch d := t.Data().(type) {
	case []float32:
		for i := range d {
			d[i] = float32(rng.NormFloat64())
		}
	case []float64:
		for i := range d {
			d[i] = rng.NormFloat64()
		}
	}
	return t
}

// Input adds a named input node holding standard normal values.
func Input(g *G.ExprGraph, rng *rand.Rand, name string, dt tensor.Dtype, shape ...int) *G.Node {
	return G.NewTensor(g, dt, len(shape), G.WithShape(shape...), G.WithName(name), G.WithValue(RandTensor(rng, dt, shape...)))
}

// WeightedSum makes the scalar cost sum(y * r) with a fixed random r, so
// that every element of y gets its own non-trivial gradient.
func WeightedSum(rng *rand.Rand, y *G.Node) (*G.Node, error) {
	r := Input(y.Graph(), rng, "gradcheck.r", y.Dtype(), y.Shape()...)
	p, err := G.HadamardProd(y, r)
	if err != nil {
		return nil, err
	}
	return G.Sum(p)
}

// Assert runs Check with eps 1e-3 on up to 40 elements per parameter and
// fails t for any parameter whose worst relative error exceeds Tolerance.
func Assert(t testing.TB, g *G.ExprGraph, cost *G.Node, wrt G.Nodes) {
	t.Helper()
	res, err := Check(g, cost, wrt, 1e-3, 40, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		t.Logf("%s: worst relative error %.1e over %d elements (%d skipped at kinks)", r.Name, r.WorstRel, r.Checked, r.Kinks)
		if r.Checked < r.Kinks {
			t.Errorf("%s: %d elements skipped at ReLU kinks, only %d compared", r.Name, r.Kinks, r.Checked)
		}
		if r.WorstRel > Tolerance {
			t.Errorf("%s: worst relative gradient error %.2e over %d elements, want <= %.0e", r.Name, r.WorstRel, r.Checked, Tolerance)
		}
	}
}
