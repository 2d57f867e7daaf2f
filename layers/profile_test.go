package layers

import "testing"

func TestOpClass(t *testing.T) {
	for name, want := range map[string]string{
		"Conv3x3/s1/p1":           "conv 3x3 forward",
		"Conv3x3/s2/p1GradInput":  "conv 3x3 input gradient",
		"Conv1x1/s2/p0GradWeight": "conv 1x1 weight gradient",
		"BatchNorm":               "batch norm forward",
		"BatchNormReLUGradGamma":  "batch norm backward",
		"BatchNormGradInput":      "batch norm backward",
		"AddReLU":                 "relu (and residual add) forward",
		"ReLUGrad":                "relu (and residual add) backward",
		"ShortcutA32/s2Grad":      "pooling and shortcuts backward",
		"MaxPool3x3/s2":           "pooling and shortcuts forward",
		"LinearGrad":              "linear backward",
		"SoftmaxCrossEntropy":     "loss forward",
		"Mystery":                 "Mystery",
	} {
		if got := opClass(name); got != want {
			t.Errorf("opClass(%q) = %q, want %q", name, got, want)
		}
	}
}

// TestOpProfileOffAndOn: with no profile running an op records nothing;
// StopOpProfile returns what ran in between, then nil.
func TestOpProfileOffAndOn(t *testing.T) {
	op := newOpBase("Conv3x3/s1/p1")
	op.timed()()
	if got := StopOpProfile(); got != nil {
		t.Fatalf("no profile ran, got %v", got)
	}
	StartOpProfile()
	op.timed()()
	op.timed()()
	newOpBase("BatchNorm").timed()()
	got := StopOpProfile()
	if len(got) != 2 || got.Classes()[0] == "" {
		t.Fatalf("got %v, want the two classes", got)
	}
	op.timed()()
	if StopOpProfile() != nil {
		t.Fatal("a stopped profile recorded")
	}
}
