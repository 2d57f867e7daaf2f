package gradcheck

import (
	"hash"
	"math/rand"
	"testing"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// square is x*x with a gradient that is off by factor (1 when right).
type square struct{ factor float64 }

func (op square) Arity() int { return 1 }
func (op square) Type() hm.Type {
	a := hm.TypeVariable('a')
	t := G.TensorType{Dims: 2, Of: a}
	return hm.NewFnType(t, t)
}
func (op square) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return in[0].(tensor.Shape).Clone(), nil
}
func (op square) ReturnsPtr() bool      { return false }
func (op square) CallsExtern() bool     { return false }
func (op square) OverwritesInput() int  { return -1 }
func (op square) WriteHash(h hash.Hash) { h.Write([]byte(op.String())) }
func (op square) Hashcode() uint32      { return 1 }
func (op square) String() string        { return "square" }
func (op square) DiffWRT(int) []bool    { return []bool{true} }
func (op square) Do(in ...G.Value) (G.Value, error) {
	x := in[0].(*tensor.Dense)
	y := x.Clone().(*tensor.Dense)
	for i, v := range y.Float64s() {
		y.Float64s()[i] = v * v
	}
	return y, nil
}
func (op square) SymDiff(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	twoX, err := G.Mul(in[0], G.NewConstant(2*op.factor))
	if err != nil {
		return nil, err
	}
	d, err := G.HadamardProd(grad, twoX)
	return G.Nodes{d}, err
}

func checkSquare(t *testing.T, factor float64) float64 {
	t.Helper()
	rng := rand.New(rand.NewSource(1))
	g := G.NewGraph()
	x := Input(g, rng, "x", tensor.Float64, 3, 4)
	y := G.Must(G.ApplyOp(square{factor}, x))
	cost, err := WeightedSum(rng, y)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Check(g, cost, G.Nodes{x}, 1e-3, 12, 1)
	if err != nil {
		t.Fatal(err)
	}
	return res[0].WorstRel
}

// TestCheckCatchesWrongGradient makes sure the checker can fail: a correct
// gradient passes, and one that is 1e-5 too large is reported at every step.
func TestCheckCatchesWrongGradient(t *testing.T) {
	if rel := checkSquare(t, 1); rel > Tolerance {
		t.Fatalf("correct gradient reported wrong: %.2e", rel)
	}
	if rel := checkSquare(t, 1+1e-5); rel <= Tolerance {
		t.Fatalf("a gradient 1e-5 too large passed with relative error %.2e", rel)
	}
}
