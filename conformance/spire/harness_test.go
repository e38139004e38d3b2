package spire

// What the conformance tests share: running fleet-attest, the README's table of SPIRE errors
// and the fleet-attest codes they map to, and the exceptions file.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// confTrustDomain is the trust domain of every case.
const confTrustDomain = "example.org"

// confBinary is the fleet-attest binary under test: $FLEET_ATTEST_BIN, else the release or
// debug build of the repository.
func confBinary(t testing.TB) string {
	t.Helper()
	if bin := os.Getenv("FLEET_ATTEST_BIN"); bin != "" {
		return bin
	}
	for _, profile := range []string{"debug", "release"} {
		bin := filepath.Join("..", "..", "target", profile, "fleet-attest")
		if _, err := os.Stat(bin); err == nil {
			abs, _ := filepath.Abs(bin)
			return abs
		}
	}
	t.Fatal("no fleet-attest binary: run `cargo build` first or set FLEET_ATTEST_BIN")
	return ""
}

// confResult is one fleet-attest result line.
type confResult struct {
	Line      int      `json:"line"`
	ID        string   `json:"id"`
	Status    string   `json:"status"`
	AgentID   string   `json:"agent_id"`
	Selectors []string `json:"selectors"`
	Aliases   []string `json:"aliases"`
	Error     *struct {
		Stage   string `json:"stage"`
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// code is "stage/code" of a rejection, or "attested".
func (r confResult) code() string {
	if r.Error == nil {
		return r.Status
	}
	return r.Error.Stage + "/" + r.Error.Code
}

// confRun is one `fleet-attest verify` run.
type confRun struct {
	results []confResult
	exit    int
	stderr  string
}

// confVerify runs fleet-attest verify over records with the config text in dir.
func confVerify(t testing.TB, dir, config string, records [][]byte, now int64, extra ...string) confRun {
	t.Helper()
	cfgPath := filepath.Join(dir, "fleet.toml")
	inPath := filepath.Join(dir, "evidence.jsonl")
	if err := os.WriteFile(cfgPath, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	var input bytes.Buffer
	for _, r := range records {
		input.Write(r)
		input.WriteByte('\n')
	}
	if err := os.WriteFile(inPath, input.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"verify", "--config", cfgPath, "--input", inPath,
		"--now", fmt.Sprint(now), "--threads", "1", "--no-progress"}, extra...)
	cmd := exec.Command(confBinary(t), args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	run := confRun{stderr: stderr.String()}
	var exitErr *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exitErr):
		run.exit = exitErr.ExitCode()
	default:
		t.Fatalf("fleet-attest: %v", err)
	}
	scanner := bufio.NewScanner(&stdout)
	scanner.Buffer(make([]byte, 1<<20), 1<<24)
	for scanner.Scan() {
		var r confResult
		if err := json.Unmarshal(scanner.Bytes(), &r); err != nil {
			t.Fatalf("fleet-attest wrote a line that is not JSON: %q", scanner.Text())
		}
		run.results = append(run.results, r)
	}
	return run
}

// confErrorRow maps a SPIRE error (a fragment of its message) to the fleet-attest code.
type confErrorRow struct {
	spire string
	code  string
}

var (
	confTableOnce sync.Once
	confTable     []confErrorRow
	confTableErr  error
)

// confErrorTable reads the README's table of SPIRE errors (between the markers
// `<!-- spire-errors -->` and `<!-- /spire-errors -->`): the first column's code span is a
// fragment of SPIRE's message, the second's the fleet-attest `stage/code`. Rows are matched
// in order, so the table lists the more specific fragments first.
func confErrorTable(t testing.TB) []confErrorRow {
	t.Helper()
	confTableOnce.Do(func() {
		data, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
		if err != nil {
			confTableErr = err
			return
		}
		text := string(data)
		start := strings.Index(text, "<!-- spire-errors -->")
		end := strings.Index(text, "<!-- /spire-errors -->")
		if start < 0 || end < start {
			confTableErr = errors.New("README.md has no <!-- spire-errors --> table")
			return
		}
		span := regexp.MustCompile("`([^`]+)`")
		for _, line := range strings.Split(text[start:end], "\n") {
			cols := strings.Split(line, "|")
			if len(cols) < 4 {
				continue
			}
			a := span.FindStringSubmatch(cols[1])
			b := span.FindStringSubmatch(cols[2])
			if a == nil || b == nil {
				continue
			}
			confTable = append(confTable, confErrorRow{spire: a[1], code: b[1]})
		}
		if len(confTable) == 0 {
			confTableErr = errors.New("README.md's spire-errors table has no rows")
		}
	})
	if confTableErr != nil {
		t.Fatal(confTableErr)
	}
	return confTable
}

// confExpectedCode is the fleet-attest code the README maps SPIRE's error message to.
func confExpectedCode(t testing.TB, spireErr string) (string, bool) {
	for _, row := range confErrorTable(t) {
		if strings.Contains(spireErr, row.spire) {
			return row.code, true
		}
	}
	return "", false
}

// confException is a difference kept on purpose: for the case named, fleet-attest gives
// `fleet_attest` where SPIRE v1.13.3 gives `spire` ("attested", "config accepted", or a
// fragment of its error), for the reason given.
type confException struct {
	Case        string `json:"case"`
	Spire       string `json:"spire"`
	FleetAttest string `json:"fleet_attest"`
	Reason      string `json:"reason"`
}

var (
	confExceptionsOnce sync.Once
	confExceptionsMap  map[string]confException
)

func confExceptions(t testing.TB) map[string]confException {
	t.Helper()
	confExceptionsOnce.Do(func() {
		data, err := os.ReadFile(filepath.Join("testdata", "exceptions.json"))
		if err != nil {
			t.Fatal(err)
		}
		var list []confException
		if err := json.Unmarshal(data, &list); err != nil {
			t.Fatalf("testdata/exceptions.json: %v", err)
		}
		confExceptionsMap = map[string]confException{}
		for _, e := range list {
			if e.Reason == "" {
				t.Fatalf("testdata/exceptions.json: %q has no reason", e.Case)
			}
			confExceptionsMap[e.Case] = e
		}
	})
	return confExceptionsMap
}

// confUsedExceptions records which exceptions matched a case, so that a stale one fails.
var (
	confUsedMu sync.Mutex
	confUsed   = map[string]bool{}
)

func confUse(name string) {
	confUsedMu.Lock()
	confUsed[name] = true
	confUsedMu.Unlock()
}

// confCheckExceptionsUsed fails for every exception of the given prefix that no case used.
func confCheckExceptionsUsed(t *testing.T, prefix string) {
	confUsedMu.Lock()
	defer confUsedMu.Unlock()
	for name := range confExceptions(t) {
		if strings.HasPrefix(name, prefix) && !confUsed[name] {
			t.Errorf("testdata/exceptions.json: %q matches no case (remove it)", name)
		}
	}
}

// confTOMLString quotes s as a TOML basic string.
func confTOMLString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, "\\u%04x", r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// confHCLString quotes s as an HCL (v1, as SPIRE decodes plugin_data) string.
func confHCLString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"', '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case '\n':
			b.WriteString(`\n`)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

func writeFile(t testing.TB, dir, name, text string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}
