package gradcheck

import (
	"math/rand"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// TestCheckCatchesWrongGradient makes sure the checker can fail: it passes a
// correct gradient, and reports a disagreement when the finite difference is
// made wrong on purpose by a step of 0.5 over an exponential term.
func TestCheckCatchesWrongGradient(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	g := G.NewGraph()
	x := Input(g, rng, "x", tensor.Float64, 3, 4)
	cost, err := WeightedSum(rng, x)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Check(g, cost, G.Nodes{x}, 1e-4, 12, 1)
	if err != nil {
		t.Fatal(err)
	}
	if res[0].WorstRel > Tolerance {
		t.Fatalf("correct gradient reported wrong: %.2e", res[0].WorstRel)
	}
	g2 := G.NewGraph()
	x2 := Input(g2, rand.New(rand.NewSource(1)), "x", tensor.Float64, 3, 4)
	c2, err := WeightedSum(rand.New(rand.NewSource(2)), x2)
	if err != nil {
		t.Fatal(err)
	}
	cube := G.Must(G.Sum(G.Must(G.Exp(x2))))
	cost2 := G.Must(G.Add(c2, G.Must(G.Mul(cube, G.NewConstant(1e-3)))))
	res, err = Check(g2, cost2, G.Nodes{x2}, 0.5, 12, 1)
	if err != nil {
		t.Fatal(err)
	}
	if res[0].WorstRel <= Tolerance {
		t.Fatalf("a step of 0.5 on an exponential term should show truncation error above %.0e, got %.2e", Tolerance, res[0].WorstRel)
	}
}
