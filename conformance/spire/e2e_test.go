package spire

// Real SPIRE end to end: a spire-server v1.13.3 on loopback (SQLite, the x509pop and join_token
// attestors, no attestation rate limit) attests nodes with real spire-agent v1.13.3 processes;
// the agent list the server keeps must equal, node by node, the agent ID and selectors that
// `fleet-attest verify` computes for a transcript of the same leaf (or the same join token).
//
// The binaries come from $SPIRE_BIN (scripts/spire/build.sh builds them into
// target/spire/bin; scripts/test.sh sets it). Without them the test is skipped, saying why.

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/spiffe/spire/pkg/common/plugin/x509pop"
)

// e2eBin is the folder holding spire-server and spire-agent, or "" (test skipped).
func e2eBin(t *testing.T) string {
	dir := os.Getenv("SPIRE_BIN")
	if dir == "" {
		dir = filepath.Join("..", "..", "target", "spire", "bin")
	}
	for _, b := range []string{"spire-server", "spire-agent"} {
		if _, err := os.Stat(filepath.Join(dir, b)); err != nil {
			t.Skipf("no %s in %s (build them with scripts/spire/build.sh, or set SPIRE_BIN)", b, dir)
		}
	}
	abs, _ := filepath.Abs(dir)
	return abs
}

func e2eFreePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func e2eKeyPEM(t *testing.T, key crypto.Signer) []byte {
	der := x5Must(x509.MarshalPKCS8PrivateKey(key))
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// e2eServer runs spire-server from dir with the given x509pop plugin_data.
type e2eServer struct {
	bin, dir, socket string
	port             int
	cmd              *exec.Cmd
}

func (s *e2eServer) run(t *testing.T, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(filepath.Join(s.bin, "spire-server"), append(args, "-socketPath", s.socket)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("spire-server %v: %v\n%s", args, err, out)
	}
	return out
}

func e2eStartServer(t *testing.T, bin, dir, x509popData string) *e2eServer {
	s := &e2eServer{bin: bin, dir: dir, socket: filepath.Join(dir, "api.sock"), port: e2eFreePort(t)}
	conf := fmt.Sprintf(`server {
    bind_address = "127.0.0.1"
    bind_port = "%d"
    socket_path = %q
    trust_domain = %q
    data_dir = %q
    log_level = "WARN"
    log_file = %q
    ratelimit {
        attestation = false
    }
}

plugins {
    DataStore "sql" {
        plugin_data {
            database_type = "sqlite3"
            connection_string = %q
        }
    }
    KeyManager "memory" {
        plugin_data {}
    }
    NodeAttestor "x509pop" {
        plugin_data {
%s
        }
    }
    NodeAttestor "join_token" {
        plugin_data {}
    }
}
`, s.port, s.socket, confTrustDomain, filepath.Join(dir, "data"), filepath.Join(dir, "server.log"),
		filepath.Join(dir, "data", "datastore.sqlite3"), x509popData)
	writeFile(t, dir, "server.conf", conf)
	s.cmd = exec.Command(filepath.Join(bin, "spire-server"), "run", "-config", filepath.Join(dir, "server.conf"))
	s.cmd.Stdout, s.cmd.Stderr = nil, nil
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.cmd.Process.Kill(); _ = s.cmd.Wait() })
	deadline := time.Now().Add(60 * time.Second)
	for {
		check := exec.Command(filepath.Join(bin, "spire-server"), "healthcheck", "-socketPath", s.socket)
		if check.Run() == nil {
			break
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "server.log"))
			t.Fatalf("spire-server did not become healthy:\n%s", log)
		}
		time.Sleep(200 * time.Millisecond)
	}
	return s
}

// e2eAttest runs a spire-agent until the server lists one more agent, then stops it.
func (s *e2eServer) attestAgent(t *testing.T, name, nodeAttestor string, args ...string) {
	t.Helper()
	dir := filepath.Join(s.dir, "agent-"+name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "bundle.pem", string(s.run(t, "bundle", "show", "-format", "pem")))
	conf := fmt.Sprintf(`agent {
    data_dir = %q
    log_level = "WARN"
    server_address = "127.0.0.1"
    server_port = "%d"
    socket_path = %q
    trust_bundle_path = %q
    trust_domain = %q
}

plugins {
    KeyManager "memory" {
        plugin_data {}
    }
    NodeAttestor %s
    WorkloadAttestor "unix" {
        plugin_data {}
    }
}
`, dir, s.port, filepath.Join(dir, "agent.sock"), filepath.Join(dir, "bundle.pem"), confTrustDomain, nodeAttestor)
	writeFile(t, dir, "agent.conf", conf)
	before := len(s.agents(t))
	var logs bytes.Buffer
	cmd := exec.Command(filepath.Join(s.bin, "spire-agent"), append([]string{"run", "-config", filepath.Join(dir, "agent.conf")}, args...)...)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	deadline := time.Now().Add(60 * time.Second)
	for len(s.agents(t)) == before {
		if time.Now().After(deadline) {
			t.Fatalf("agent %s was not attested within 60s; its output:\n%s", name, logs.String())
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// e2eAgent is an attested agent as `spire-server agent list -output json` prints it.
type e2eAgent struct {
	ID        string
	Selectors []string
}

func (s *e2eServer) agents(t *testing.T) map[string]e2eAgent {
	t.Helper()
	var list struct {
		Agents []struct {
			ID struct {
				TrustDomain string `json:"trust_domain"`
				Path        string `json:"path"`
			} `json:"id"`
			Selectors []struct {
				Type  string `json:"type"`
				Value string `json:"value"`
			} `json:"selectors"`
		} `json:"agents"`
	}
	if err := json.Unmarshal(s.run(t, "agent", "list", "-output", "json"), &list); err != nil {
		t.Fatal(err)
	}
	out := map[string]e2eAgent{}
	for _, a := range list.Agents {
		id := "spiffe://" + a.ID.TrustDomain + a.ID.Path
		agent := e2eAgent{ID: id}
		for _, sel := range a.Selectors {
			agent.Selectors = append(agent.Selectors, sel.Type+":"+sel.Value)
		}
		sort.Strings(agent.Selectors)
		out[id] = agent
	}
	return out
}

// e2eRecord is an x509pop transcript of chain answered with key, as fleet-attest reads it.
func e2eRecord(t *testing.T, id string, chain [][]byte, key crypto.Signer) []byte {
	leaf := x5Must(x509.ParseCertificate(chain[0]))
	challenge := x5Must(x509pop.GenerateChallenge(leaf))
	response := x5Must(x509pop.CalculateResponse(key, challenge))
	return x5Must(json.Marshal(map[string]any{
		"id":        id,
		"type":      "x509pop",
		"payload":   x509pop.AttestationData{Certificates: chain},
		"challenge": challenge,
		"response":  response,
	}))
}

func TestRealSpireEndToEnd(t *testing.T) {
	bin := e2eBin(t)
	dir := t.TempDir()
	root := x5Issue(t, x5CA("e2e root"), x5NewKey(t, "p256"), nil)
	inter := x5Issue(t, x5CA("e2e intermediate"), x5NewKey(t, "p256"), root)
	writeFile(t, dir, "root.pem", string(x5PEM(root)))
	template := `/{{ .PluginName }}/{{ .Subject.CommonName }}/{{ .SerialNumberHex }}`
	server := e2eStartServer(t, bin, dir, fmt.Sprintf("            ca_bundle_paths = [%q]\n            agent_path_template = %q",
		filepath.Join(dir, "root.pem"), template))

	type node struct {
		name  string
		chain []*x5Cert
	}
	uris := func(c *x509.Certificate, s ...string) {
		for _, u := range s {
			c.URIs = append(c.URIs, x5Must(url.Parse(u)))
		}
	}
	var nodes []node
	for i, variant := range []func(*x509.Certificate) (string, string){
		func(c *x509.Certificate) (string, string) { return "plain", "p256" },
		func(c *x509.Certificate) (string, string) {
			uris(c, "x509pop://example.org/pool/blue")
			return "san-pool", "p256"
		},
		func(c *x509.Certificate) (string, string) {
			uris(c, "x509pop://example.org/region/eu-west-1", "x509pop://example.org/rack/r1/slot/7")
			return "san-two", "p256"
		},
		func(c *x509.Certificate) (string, string) {
			uris(c, "x509pop://example.org/path/a%2Fb%20c", "X509POP://example.org/upper/case")
			return "san-escaped", "p256"
		},
		func(c *x509.Certificate) (string, string) {
			uris(c, "x509pop://example.org/dup/first", "x509pop://example.org/dup/second")
			return "san-dup", "p256"
		},
		func(c *x509.Certificate) (string, string) {
			uris(c, "x509pop://other.org/pool/red")
			return "san-other-td", "p256"
		},
		func(c *x509.Certificate) (string, string) { return "rsa", "rsa2048" },
		func(c *x509.Certificate) (string, string) { return "p384", "p384" },
		func(c *x509.Certificate) (string, string) {
			c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
			c.DNSNames = []string{"node.example.org"}
			return "eku-server", "p256"
		},
		func(c *x509.Certificate) (string, string) { return "direct-under-root", "p256" },
	} {
		tmpl := x5Leaf("")
		tmpl.SerialNumber.SetInt64(int64(0x1000 + i))
		name, keyKind := variant(tmpl)
		tmpl.Subject.CommonName = "e2e-" + name
		issuer := inter
		if name == "direct-under-root" {
			issuer = root
		}
		leaf := x5Issue(t, tmpl, x5NewKey(t, keyKind), issuer)
		chain := []*x5Cert{leaf}
		if issuer == inter {
			chain = append(chain, inter)
		}
		nodes = append(nodes, node{name, chain})
	}

	var records [][]byte
	for _, n := range nodes {
		ndir := filepath.Join(dir, "agent-"+n.name)
		if err := os.MkdirAll(ndir, 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, ndir, "key.pem", string(e2eKeyPEM(t, n.chain[0].key)))
		writeFile(t, ndir, "cert.pem", string(x5PEM(n.chain[0])))
		intermediates := ""
		if len(n.chain) > 1 {
			writeFile(t, ndir, "intermediates.pem", string(x5PEM(n.chain[1:]...)))
			intermediates = fmt.Sprintf("\n            intermediates_path = %q", filepath.Join(ndir, "intermediates.pem"))
		}
		server.attestAgent(t, n.name, fmt.Sprintf(`"x509pop" {
        plugin_data {
            private_key_path = %q
            certificate_path = %q%s
        }
    }`, filepath.Join(ndir, "key.pem"), filepath.Join(ndir, "cert.pem"), intermediates))
		var ders [][]byte
		for _, c := range n.chain {
			ders = append(ders, c.der)
		}
		records = append(records, e2eRecord(t, n.name, ders, n.chain[0].key))
	}

	// Join tokens, created by the server and presented by agents.
	var tokens []string
	var csv strings.Builder
	for i := 0; i < 3; i++ {
		// "Token: <token>" on the first line (a warning about the missing SPIFFE ID follows).
		first, _, _ := strings.Cut(string(server.run(t, "token", "generate", "-ttl", "3600")), "\n")
		token := strings.TrimSpace(strings.TrimPrefix(first, "Token:"))
		tokens = append(tokens, token)
		fmt.Fprintf(&csv, "%s,%d\n", token, time.Now().Add(time.Hour).Unix())
		server.attestAgent(t, fmt.Sprintf("token-%d", i), `"join_token" {
        plugin_data {}
    }`, "-joinToken", token)
		records = append(records, x5Must(json.Marshal(map[string]string{"id": fmt.Sprintf("token-%d", i), "type": "join_token", "token": token})))
	}
	writeFile(t, dir, "tokens.csv", csv.String())

	config := fmt.Sprintf("trust_domain = %s\n\n[x509pop]\nca_bundle_paths = [%s]\nagent_path_template = %s\n\n[join_token]\ntokens_path = \"tokens.csv\"\n",
		confTOMLString(confTrustDomain), confTOMLString(filepath.Join(dir, "root.pem")), confTOMLString(template))
	run := confVerify(t, dir, config, records, time.Now().Unix())
	if run.exit != 0 || len(run.results) != len(records) {
		t.Fatalf("fleet-attest exit %d, %d results: %s", run.exit, len(run.results), run.stderr)
	}
	agents := server.agents(t)
	if len(agents) != len(nodes)+len(tokens) {
		t.Errorf("the server lists %d agents, want %d", len(agents), len(nodes)+len(tokens))
	}
	for _, r := range run.results {
		if r.Status != "attested" {
			t.Errorf("%s: fleet-attest %s %+v", r.ID, r.code(), r.Error)
			continue
		}
		agent, ok := agents[r.AgentID]
		if !ok {
			t.Errorf("%s: fleet-attest's agent ID %s is not in the server's agent list", r.ID, r.AgentID)
			continue
		}
		if strings.Join(agent.Selectors, "\n") != strings.Join(r.Selectors, "\n") {
			t.Errorf("%s (%s): selectors\n  server       %q\n  fleet-attest %q", r.ID, r.AgentID, agent.Selectors, r.Selectors)
		}
	}
	t.Logf("%d agents attested by spire-server, each with fleet-attest's agent ID and selectors", len(agents))
}
