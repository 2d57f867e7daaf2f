package filelock

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pkg/errors"
)

func TestTryLockExcludes(t *testing.T) {
	path := filepath.Join(t.TempDir(), ".lock")
	a, err := TryLock(path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = TryLock(path)
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "pid "+strconv.Itoa(os.Getpid())) {
		t.Fatalf("second lock: got %v, want ErrLocked naming the holder", err)
	}
	if err := a.Unlock(); err != nil {
		t.Fatal(err)
	}
	b, err := TryLock(path)
	if err != nil {
		t.Fatalf("after Unlock: %v", err)
	}
	b.Unlock()
}

func TestWaitWaits(t *testing.T) {
	path := filepath.Join(t.TempDir(), ".lock")
	a, err := TryLock(path)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan time.Time)
	go func() {
		b, err := Wait(path)
		if err != nil {
			t.Error(err)
		}
		got <- time.Now()
		b.Unlock()
	}()
	time.Sleep(50 * time.Millisecond)
	released := time.Now()
	a.Unlock()
	if at := <-got; at.Before(released) {
		t.Fatal("Wait took the lock while it was held")
	}
}

const holdEnv = "FILELOCK_TEST_HOLD"

// TestHoldHelper is the subprocess of TestLockDiesWithProcess.
func TestHoldHelper(t *testing.T) {
	path := os.Getenv(holdEnv)
	if path == "" {
		t.Skip("subprocess only")
	}
	if _, err := TryLock(path); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(path+".held", nil, 0o644)
	time.Sleep(time.Minute)
}

// TestLockDiesWithProcess: a lock held by a process killed with SIGKILL
// is free at once.
func TestLockDiesWithProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), ".lock")
	cmd := exec.Command(os.Args[0], "-test.run=^TestHoldHelper$")
	cmd.Env = append(os.Environ(), holdEnv+"="+path)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if _, err := os.Stat(path + ".held"); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the helper did not take the lock")
		}
	}
	if _, err := TryLock(path); !errors.Is(err, ErrLocked) {
		t.Fatalf("while the helper holds it: got %v, want ErrLocked", err)
	}
	cmd.Process.Kill()
	cmd.Wait()
	l, err := TryLock(path)
	if err != nil {
		t.Fatalf("after the holder was killed: %v", err)
	}
	l.Unlock()
}
