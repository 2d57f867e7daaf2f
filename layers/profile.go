package layers

import (
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// OpTimes is the wall time that this package's ops spent, by op class
// ("conv 3x3 forward", "batch norm backward", ...), while a profile ran:
// the per-op breakdown of a training step that torch.profiler gives
// PyTorch's (cmd/bench -ops). The time of a class is that of its ops' Do
// calls, workers included; what a step spends outside them is Gorgonia's
// and the caller's.
type OpTimes map[string]time.Duration

// profile is the running profile, nil when none runs.
var profile atomic.Pointer[opProfile]

type opProfile struct {
	mu    sync.Mutex
	times OpTimes
}

// StartOpProfile starts timing this package's ops, from every graph; it
// costs two clock reads per op while on and one atomic load while off.
func StartOpProfile() { profile.Store(&opProfile{times: OpTimes{}}) }

// StopOpProfile stops timing and returns the times since StartOpProfile
// (nil when no profile ran).
func StopOpProfile() OpTimes {
	p := profile.Swap(nil)
	if p == nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.times
}

// Classes returns the op classes of t, sorted by time, largest first.
func (t OpTimes) Classes() []string {
	names := make([]string, 0, len(t))
	for n := range t {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool {
		if t[names[i]] != t[names[j]] {
			return t[names[i]] > t[names[j]]
		}
		return names[i] < names[j]
	})
	return names
}

// timed returns the function that ends the timing of one Do call of the
// op named name; call it as defer o.timed()().
func (o opBase) timed() func() {
	p := profile.Load()
	if p == nil {
		return noop
	}
	start := time.Now()
	return func() {
		d := time.Since(start)
		p.mu.Lock()
		p.times[opClass(o.name)] += d
		p.mu.Unlock()
	}
}

func noop() {}

// opClass is the class of the op named name, the rows of a per-op table:
// convolutions by kernel size and pass, batch norm, ReLU (with the
// residual addition it fuses), pooling and shortcuts, the classifier, the
// loss, and the sums of two gradients of one tensor (see sumEngine). At
// stride 1 a convolution's input-gradient op also makes the weight
// gradient's products (see shiftedBackward), so its weight-gradient op
// only adds them up: "input gradient" then has the time of both.
func opClass(name string) string {
	pass := "forward"
	switch {
	case strings.HasSuffix(name, "GradInput") && strings.HasPrefix(name, "Conv"):
		pass = "input gradient"
	case strings.HasSuffix(name, "GradWeight"):
		pass = "weight gradient"
	case strings.Contains(name, "Grad"):
		pass = "backward"
	}
	switch {
	case strings.HasPrefix(name, "Conv"):
		size, _, _ := strings.Cut(strings.TrimPrefix(name, "Conv"), "/")
		return "conv " + size + " " + pass
	case strings.HasPrefix(name, "BatchNorm"):
		return "batch norm " + pass
	case strings.HasPrefix(name, "ReLU"), strings.HasPrefix(name, "AddReLU"):
		return "relu (and residual add) " + pass
	case strings.HasPrefix(name, "MaxPool"), strings.HasPrefix(name, "GlobalAvgPool"), strings.HasPrefix(name, "Shortcut"):
		return "pooling and shortcuts " + pass
	case strings.HasPrefix(name, "Linear"):
		return "linear " + pass
	case strings.HasPrefix(name, "SoftmaxCrossEntropy"):
		return "loss " + pass
	case name == gradientSum.name:
		return "gradient sums"
	}
	return name
}
