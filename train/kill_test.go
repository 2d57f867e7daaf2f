package train

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/gorgonia-zoo/resnet/internal/synthetic"
)

const killDirEnv = "TRAIN_TEST_CHECKPOINT_LOOP_DIR"

// TestCheckpointLoopHelper is the subprocess of TestKill9DuringCheckpoint:
// it writes checkpoints of a changing model as fast as it can, forever.
func TestCheckpointLoopHelper(t *testing.T) {
	dir := os.Getenv(killDirEnv)
	if dir == "" {
		t.Skip("helper process only")
	}
	tr, err := Resume(dir, synthetic.CIFAR10(64, 32), Output{}, func(c *Config) { c.Iters = 1 << 30 })
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "helper-started"), nil, 0o644)
	for i := tr.iter + 1; ; i++ {
		tr.iter = i
		for _, w := range tr.step.Weights {
			w[0] = float32(i)
		}
		if err := tr.checkpoint(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestKill9DuringCheckpoint kills (SIGKILL) a process that writes
// checkpoints in a loop and checks that the run still resumes from a whole
// checkpoint.
func TestKill9DuringCheckpoint(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	runTiny(t, tiny(2), synthetic.CIFAR10(64, 32), dir)
	for round := 0; round < 3; round++ {
		os.Remove(filepath.Join(dir, "helper-started"))
		cmd := exec.Command(os.Args[0], "-test.run=^TestCheckpointLoopHelper$")
		cmd.Env = append(os.Environ(), killDirEnv+"="+dir)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(30 * time.Second)
		for !exists(filepath.Join(dir, "helper-started")) && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		time.Sleep(time.Duration(150+round*37) * time.Millisecond)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		cmd.Wait()
		tr, err := Resume(dir, synthetic.CIFAR10(64, 32), Output{}, func(c *Config) { c.Iters = 1 << 30 })
		if err != nil {
			t.Fatalf("round %d: after kill -9 the checkpoint does not load: %v", round, err)
		}
		if stale, _ := filepath.Glob(filepath.Join(dir, ".*.tmp")); len(stale) > 0 {
			t.Errorf("round %d: resume left the killed write's temporaries %q", round, stale)
		}
		it := tr.Iteration()
		if w := tr.step.Weights[0][0]; it > 2 && w != float32(it) {
			t.Fatalf("round %d: checkpoint of iteration %d holds a weight of iteration %v", round, it, w)
		}
		t.Logf("round %d: killed after checkpoint %s", round, strconv.Itoa(it))
		tr.Close()
	}
}
