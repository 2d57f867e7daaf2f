package cifar10

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// archiveServer serves a synthetic archive. The first dropFirst requests are
// cut off after half the bytes; with ignoreRange the server answers every
// request with the whole file.
type archiveServer struct {
	*httptest.Server
	data        []byte
	md5         string
	dropFirst   int
	ignoreRange bool

	mu     sync.Mutex
	ranges []string // Range header of each request, "" if none
}

func newArchiveServer(t *testing.T, dropFirst int, ignoreRange bool) *archiveServer {
	data := newLayout(1, 1).archive(t)
	sum := md5.Sum(data)
	s := &archiveServer{data: data, md5: hex.EncodeToString(sum[:]), dropFirst: dropFirst, ignoreRange: ignoreRange}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *archiveServer) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.ranges = append(s.ranges, r.Header.Get("Range"))
	n := len(s.ranges)
	s.mu.Unlock()
	if r.URL.Path == "/missing" {
		http.NotFound(w, r)
		return
	}
	if n <= s.dropFirst {
		w.Header().Set("Content-Length", strconv.Itoa(len(s.data)))
		w.WriteHeader(http.StatusOK)
		w.Write(s.data[:len(s.data)/2])
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler) // drop the connection midway
	}
	if s.ignoreRange {
		r.Header.Del("Range")
	}
	http.ServeContent(w, r, ArchiveName, time.Time{}, bytes.NewReader(s.data))
}

func (s *archiveServer) requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.ranges...)
}

func (s *archiveServer) downloader(progress *bytes.Buffer, attempts int) *Downloader {
	d := &Downloader{URL: s.URL + "/" + ArchiveName, MD5: s.md5, Client: s.Client(), Attempts: attempts}
	if progress != nil {
		d.Progress = progress
	}
	return d
}

func checkDownloaded(t *testing.T, dest string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(dest)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("downloaded %d bytes differ from the %d served", len(got), len(want))
	}
	if _, err := os.Stat(dest + ".part"); !os.IsNotExist(err) {
		t.Errorf("%s.part left behind (%v)", dest, err)
	}
}

func TestDownload(t *testing.T) {
	s := newArchiveServer(t, 0, false)
	dest := filepath.Join(t.TempDir(), "new", "dir", ArchiveName)
	var progress bytes.Buffer
	if err := s.downloader(&progress, 1).Download(context.Background(), dest); err != nil {
		t.Fatal(err)
	}
	checkDownloaded(t, dest, s.data)
	if _, err := Load(dest); err != nil {
		t.Errorf("the downloaded archive does not load: %v", err)
	}
	t.Logf("progress output: %q", progress.String())
	wantError(t, errorString(progress.String()), ArchiveName, "100.0%", bytesText(int64(len(s.data)))+" / "+bytesText(int64(len(s.data))), "/s", "ETA 0s")
	if strings.ContainsAny(progress.String(), "\r[") || !strings.HasSuffix(progress.String(), "\n") {
		t.Errorf("progress to a log is not plain lines: %q", progress.String())
	}
}

// TestDownloadsTakeTurns: concurrent downloads to one path (cluster jobs
// on a shared volume) fetch the archive once; the others find it there.
func TestDownloadsTakeTurns(t *testing.T) {
	s := newArchiveServer(t, 0, false)
	dest := filepath.Join(t.TempDir(), ArchiveName)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.downloader(nil, 1).Download(context.Background(), dest)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("download %d: %v", i, err)
		}
	}
	checkDownloaded(t, dest, s.data)
	if n := len(s.requests()); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

// errorString lets wantError check plain text.
type errorString string

func (e errorString) Error() string { return string(e) }

func TestDownloadChecksumMismatch(t *testing.T) {
	s := newArchiveServer(t, 0, false)
	dest := filepath.Join(t.TempDir(), ArchiveName)
	d := s.downloader(nil, 3)
	d.MD5 = "00000000000000000000000000000000"
	err := d.Download(context.Background(), dest)
	wantError(t, err, "checksum mismatch", "MD5 "+s.md5, "want 0000")
	for _, p := range []string{dest, dest + ".part"} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s exists after a checksum mismatch", p)
		}
	}
	if n := len(s.requests()); n != 1 {
		t.Errorf("%d requests; a fresh download that fails its checksum is not worth repeating", n)
	}
}

func TestDownloadDroppedThenResumed(t *testing.T) {
	dest := filepath.Join(t.TempDir(), ArchiveName)
	dropping := newArchiveServer(t, 1, false)
	half := len(dropping.data) / 2
	err := dropping.downloader(nil, 1).Download(context.Background(), dest)
	wantError(t, err, "interrupted at byte "+strconv.Itoa(half), "kept in "+dest+".part")
	if _, err := os.Stat(dest); !os.IsNotExist(err) {
		t.Errorf("%s exists after a dropped download", dest)
	}
	part, err := os.ReadFile(dest + ".part")
	if err != nil || !bytes.Equal(part, dropping.data[:half]) {
		t.Fatalf("the .part file holds %d bytes (%v), want the first %d served", len(part), err, half)
	}

	// A later call resumes where the first stopped.
	s := newArchiveServer(t, 0, false)
	if err := s.downloader(nil, 1).Download(context.Background(), dest); err != nil {
		t.Fatal(err)
	}
	checkDownloaded(t, dest, s.data)
	if got, want := s.requests(), []string{"bytes=" + strconv.Itoa(half) + "-"}; len(got) != 1 || got[0] != want[0] {
		t.Errorf("requests with Range %q, want %q", got, want)
	}
}

func TestDownloadRetriesDroppedConnection(t *testing.T) {
	s := newArchiveServer(t, 1, false)
	dest := filepath.Join(t.TempDir(), ArchiveName)
	var progress bytes.Buffer
	if err := s.downloader(&progress, 2).Download(context.Background(), dest); err != nil {
		t.Fatal(err)
	}
	checkDownloaded(t, dest, s.data)
	got := s.requests()
	if len(got) != 2 || got[0] != "" || got[1] != "bytes="+strconv.Itoa(len(s.data)/2)+"-" {
		t.Errorf("requests with Range %q, want none then the second half", got)
	}
}

func TestDownloadServerWithoutRanges(t *testing.T) {
	s := newArchiveServer(t, 1, true)
	dest := filepath.Join(t.TempDir(), ArchiveName)
	if err := s.downloader(nil, 2).Download(context.Background(), dest); err != nil {
		t.Fatal(err)
	}
	checkDownloaded(t, dest, s.data) // the half already there must not be kept twice
}

func TestDownloadWholePartFile(t *testing.T) {
	s := newArchiveServer(t, 0, false)
	dest := filepath.Join(t.TempDir(), ArchiveName)
	if err := os.WriteFile(dest+".part", s.data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := s.downloader(nil, 1).Download(context.Background(), dest); err != nil {
		t.Fatal(err)
	}
	checkDownloaded(t, dest, s.data)
}

func TestDownloadCorruptPartFile(t *testing.T) {
	s := newArchiveServer(t, 0, false)
	dest := filepath.Join(t.TempDir(), ArchiveName)
	if err := os.WriteFile(dest+".part", bytes.Repeat([]byte{'x'}, 100), 0o644); err != nil {
		t.Fatal(err)
	}
	// The resumed file fails its checksum; the retry starts from scratch.
	if err := s.downloader(nil, 2).Download(context.Background(), dest); err != nil {
		t.Fatal(err)
	}
	checkDownloaded(t, dest, s.data)
	if got := s.requests(); len(got) != 2 || got[0] != "bytes=100-" || got[1] != "" {
		t.Errorf("requests with Range %q, want a resume then a fresh start", got)
	}
}

func TestDownloadNotFound(t *testing.T) {
	s := newArchiveServer(t, 0, false)
	d := s.downloader(nil, 3)
	d.URL = s.URL + "/missing"
	err := d.Download(context.Background(), filepath.Join(t.TempDir(), ArchiveName))
	wantError(t, err, "/missing", "404")
	if n := len(s.requests()); n != 1 {
		t.Errorf("%d requests for a missing file, want 1", n)
	}
}

func TestLocateOrder(t *testing.T) {
	cache := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", cache) // os.UserCacheDir on Linux and BSDs
	t.Setenv("HOME", cache)           // ... and, via Library/Caches, on macOS
	t.Setenv(EnvVar, "")
	def, err := DefaultPath()
	if err != nil {
		t.Skip(err)
	}
	if dir, _ := os.UserCacheDir(); def != filepath.Join(dir, "resnet-zoo", "cifar10", ArchiveName) {
		t.Errorf("DefaultPath = %s", def)
	}
	if got, _ := Locate(""); got != def {
		t.Errorf("Locate with nothing set = %s, want %s", got, def)
	}
	t.Setenv(EnvVar, "/from/env")
	if got, _ := Locate(""); got != "/from/env" {
		t.Errorf("Locate with $%s set = %s", EnvVar, got)
	}
	if got, _ := Locate("/explicit"); got != "/explicit" {
		t.Errorf("Locate(explicit) = %s", got)
	}
}

func TestEnsure(t *testing.T) {
	cache := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", cache)
	t.Setenv("HOME", cache)
	t.Setenv(EnvVar, "")
	s := newArchiveServer(t, 0, false)
	d := s.downloader(nil, 1)

	path, err := Ensure(context.Background(), "", d)
	if err != nil {
		t.Fatal(err)
	}
	if def, _ := DefaultPath(); path != def {
		t.Errorf("Ensure downloaded to %s, want the default %s", path, def)
	}
	checkDownloaded(t, path, s.data)
	if _, err := Ensure(context.Background(), "", d); err != nil || len(s.requests()) != 1 {
		t.Errorf("second Ensure: %v after %d requests, want no new download", err, len(s.requests()))
	}

	// A present directory is used as it is; a missing one is not downloaded to.
	dir := newLayout(1, 1).writeDir(t)
	if got, err := Ensure(context.Background(), dir, d); err != nil || got != dir {
		t.Errorf("Ensure(%s) = %s, %v", dir, got, err)
	}
	d.DownloadExplicit = true
	_, err = Ensure(context.Background(), filepath.Join(dir, "nope"), d)
	wantError(t, err, "nope does not exist", "want the extracted")
}

// listTree returns every path under root, relative to it.
func listTree(t *testing.T, root string) []string {
	t.Helper()
	var paths []string
	err := filepath.WalkDir(root, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != root {
			rel, _ := filepath.Rel(root, p)
			paths = append(paths, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return paths
}

// TestEnsureGivenPathMissing checks that a path given explicitly or in
// $CIFAR10_DATA that does not exist is an error naming it, with nothing
// created and nothing downloaded, unless a download was asked for.
func TestEnsureGivenPathMissing(t *testing.T) {
	cache := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", cache)
	t.Setenv("HOME", cache)
	s := newArchiveServer(t, 0, false)
	root := t.TempDir()
	typo := filepath.Join(root, "typo", "dir", "file.tar.gz")
	for _, c := range []struct {
		name, explicit, env string
		from                string // what the error says of where the path came from
	}{
		{"explicit", typo, "", ""},
		{"explicit over the environment", typo, filepath.Join(root, "other.tar.gz"), ""},
		{"environment", "", typo, "$" + EnvVar + " names it"},
		{"explicit directory", filepath.Join(root, "cifar-10-batches-bin"), "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv(EnvVar, c.env)
			want := c.explicit
			if want == "" {
				want = c.env
			}
			path, err := Ensure(context.Background(), c.explicit, s.downloader(nil, 1))
			if path != "" {
				t.Errorf("Ensure returned the path %s with the error", path)
			}
			wantError(t, err, "cifar10: "+want+": no such file or directory; ", c.from, ArchiveName, batchesDir)
			if c.from == "" && strings.Contains(fmt.Sprint(err), EnvVar) {
				t.Errorf("the error blames $%s for an explicit path: %v", EnvVar, err)
			}
			if !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("errors.Is(%v, fs.ErrNotExist) is false", err)
			}
			if got := listTree(t, root); len(got) != 0 {
				t.Errorf("Ensure created %q", got)
			}
			if got := listTree(t, cache); len(got) != 0 {
				t.Errorf("Ensure created %q in the cache directory", got)
			}
			if n := len(s.requests()); n != 0 {
				t.Errorf("%d download requests", n)
			}
		})
	}

	// Asked for, the download goes to the path given.
	for _, c := range []struct{ name, explicit, env string }{
		{"explicit", typo, ""},
		{"environment", "", filepath.Join(root, "env", ArchiveName)},
	} {
		t.Run(c.name+" download", func(t *testing.T) {
			t.Setenv(EnvVar, c.env)
			d := s.downloader(nil, 1)
			d.DownloadExplicit = true
			path, err := Ensure(context.Background(), c.explicit, d)
			if err != nil {
				t.Fatal(err)
			}
			if want := c.explicit + c.env; path != want {
				t.Errorf("downloaded to %s, want %s", path, want)
			}
			checkDownloaded(t, path, s.data)
		})
	}
	if got := listTree(t, cache); len(got) != 0 {
		t.Errorf("the downloads to given paths created %q in the cache directory", got)
	}
}
