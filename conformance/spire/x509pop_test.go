package spire

// The x509pop conformance test: every case is attested by SPIRE v1.13.3's own x509pop server
// plugin (loaded as SPIRE's tests load it, with plugintest) and by `fleet-attest verify` on a
// record of the very transcript SPIRE saw; the two must agree on the decision, the agent ID and
// the selectors, and a rejection must carry the code README.md's table maps SPIRE's error to.

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	identityproviderv1 "github.com/spiffe/spire-plugin-sdk/proto/spire/hostservice/server/identityprovider/v1"
	plugintypes "github.com/spiffe/spire-plugin-sdk/proto/spire/plugin/types"
	"github.com/spiffe/spire/pkg/common/catalog"
	"github.com/spiffe/spire/pkg/common/plugin/x509pop"
	"github.com/spiffe/spire/pkg/server/plugin/nodeattestor"
	x509popplugin "github.com/spiffe/spire/pkg/server/plugin/nodeattestor/x509pop"
	"github.com/spiffe/spire/test/fakes/fakeidentityprovider"
	"github.com/spiffe/spire/test/plugintest"
)

// x5Config is one x509pop plugin configuration, given to SPIRE as HCL and to fleet-attest as
// the equivalent TOML.
type x5Config struct {
	mode             *string
	svidPrefix       *string
	bundles          [][]*x5Cert // one PEM file each
	rawBundles       [][]byte    // more files, written as given
	missingBundle    bool        // one more path, to a file that does not exist
	singular         bool        // ca_bundle_path = the first file (else ca_bundle_paths)
	both             bool        // both keys (SPIRE refuses it)
	template         *string
	maxIntermediates *int
	maxRSAKeySize    *int
}

// x5Case is one attestation: a configuration, the agent's certificates and its key.
type x5Case struct {
	name   string
	config x5Config
	// spiffeBundle is the server's own bundle, for mode = "spiffe".
	spiffeBundle []*x5Cert
	// certs are the payload's certificates, leaf first; payload replaces them when set.
	certs   [][]byte
	payload json.RawMessage
	// key answers the challenge; answer, when set, writes the response instead.
	key    crypto.Signer
	answer func(t testing.TB, challenge *x509pop.Challenge, key crypto.Signer) []byte
}

// x5Verdict is what SPIRE decided.
type x5Verdict struct {
	configErr string
	attestErr string
	agentID   string
	selectors []string
}

func (v x5Verdict) String() string {
	switch {
	case v.configErr != "":
		return "config refused: " + v.configErr
	case v.attestErr != "":
		return "rejected: " + v.attestErr
	default:
		return fmt.Sprintf("attested %s %v", v.agentID, v.selectors)
	}
}

func ptr[T any](v T) *T { return &v }

// files writes the bundle files into dir and returns their paths (the missing one included).
func (c *x5Config) files(t testing.TB, dir string) []string {
	var paths []string
	for i, certs := range c.bundles {
		p := filepath.Join(dir, fmt.Sprintf("bundle-%d.pem", i))
		if err := os.WriteFile(p, x5PEM(certs...), 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	for i, raw := range c.rawBundles {
		p := filepath.Join(dir, fmt.Sprintf("raw-%d.pem", i))
		if err := os.WriteFile(p, raw, 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	if c.missingBundle {
		paths = append(paths, filepath.Join(dir, "no-such-bundle.pem"))
	}
	return paths
}

func (c *x5Config) hcl(paths []string) string {
	var b strings.Builder
	if c.mode != nil {
		fmt.Fprintf(&b, "mode = %s\n", confHCLString(*c.mode))
	}
	if c.svidPrefix != nil {
		fmt.Fprintf(&b, "spiffe_prefix = %s\n", confHCLString(*c.svidPrefix))
	}
	if len(paths) > 0 {
		if c.singular || c.both {
			fmt.Fprintf(&b, "ca_bundle_path = %s\n", confHCLString(paths[0]))
		}
		if !c.singular || c.both {
			quoted := make([]string, len(paths))
			for i, p := range paths {
				quoted[i] = confHCLString(p)
			}
			fmt.Fprintf(&b, "ca_bundle_paths = [%s]\n", strings.Join(quoted, ", "))
		}
	}
	if c.template != nil {
		fmt.Fprintf(&b, "agent_path_template = %s\n", confHCLString(*c.template))
	}
	if c.maxIntermediates != nil {
		fmt.Fprintf(&b, "max_intermediates = %d\n", *c.maxIntermediates)
	}
	if c.maxRSAKeySize != nil {
		fmt.Fprintf(&b, "max_rsa_key_size = %d\n", *c.maxRSAKeySize)
	}
	return b.String()
}

func (c *x5Config) toml(paths []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "trust_domain = %s\n\n[x509pop]\n", confTOMLString(confTrustDomain))
	if c.mode != nil {
		fmt.Fprintf(&b, "mode = %s\n", confTOMLString(*c.mode))
	}
	if c.svidPrefix != nil {
		fmt.Fprintf(&b, "spiffe_prefix = %s\n", confTOMLString(*c.svidPrefix))
	}
	if len(paths) > 0 {
		if c.singular || c.both {
			fmt.Fprintf(&b, "ca_bundle_path = %s\n", confTOMLString(paths[0]))
		}
		if !c.singular || c.both {
			quoted := make([]string, len(paths))
			for i, p := range paths {
				quoted[i] = confTOMLString(p)
			}
			fmt.Fprintf(&b, "ca_bundle_paths = [%s]\n", strings.Join(quoted, ", "))
		}
	}
	if c.template != nil {
		fmt.Fprintf(&b, "agent_path_template = %s\n", confTOMLString(*c.template))
	}
	if c.maxIntermediates != nil {
		fmt.Fprintf(&b, "max_intermediates = %d\n", *c.maxIntermediates)
	}
	if c.maxRSAKeySize != nil {
		fmt.Fprintf(&b, "max_rsa_key_size = %d\n", *c.maxRSAKeySize)
	}
	return b.String()
}

// x5Spire attests c with SPIRE's plugin and returns its verdict and the record of the
// transcript (nil when the configuration was refused).
func x5Spire(t *testing.T, c *x5Case, paths []string) (x5Verdict, []byte) {
	t.Helper()
	provider := fakeidentityprovider.New()
	if len(c.spiffeBundle) > 0 {
		bundle := &plugintypes.Bundle{}
		for _, cert := range c.spiffeBundle {
			bundle.X509Authorities = append(bundle.X509Authorities, &plugintypes.X509Certificate{Asn1: cert.der})
		}
		provider.AppendBundle(bundle)
	}
	attestor := new(nodeattestor.V1)
	var configErr error
	plugintest.Load(t, x509popplugin.BuiltIn(), attestor,
		plugintest.HostServices(identityproviderv1.IdentityProviderServiceServer(provider)),
		plugintest.CoreConfig(catalog.CoreConfig{TrustDomain: spiffeid.RequireTrustDomainFromString(confTrustDomain)}),
		plugintest.Configure(c.config.hcl(paths)),
		plugintest.CaptureConfigureError(&configErr),
	)
	if configErr != nil {
		return x5Verdict{configErr: configErr.Error()}, nil
	}

	payload := c.payload
	if payload == nil {
		payload = x5Must(json.Marshal(x509pop.AttestationData{Certificates: c.certs}))
	}
	var challengeJSON, responseJSON []byte
	answer := func(ctx context.Context, challenge []byte) ([]byte, error) {
		challengeJSON = append([]byte{}, challenge...)
		parsed := new(x509pop.Challenge)
		if err := json.Unmarshal(challenge, parsed); err != nil {
			return nil, err
		}
		responseJSON = x5Answer(t, c, parsed)
		return responseJSON, nil
	}
	result, err := attestor.Attest(context.Background(), payload, answer)
	var verdict x5Verdict
	if err != nil {
		verdict.attestErr = err.Error()
	} else {
		verdict.agentID = result.AgentID
		for _, s := range result.Selectors {
			verdict.selectors = append(verdict.selectors, s.Type+":"+s.Value)
		}
		verdict.selectors = x5SortedUnique(verdict.selectors)
	}
	if challengeJSON == nil {
		// SPIRE refused before it challenged: make the transcript the agent would have
		// answered, with SPIRE's own functions where the leaf allows them.
		challengeJSON, responseJSON = x5OfflineTranscript(t, c)
	}
	if !json.Valid(responseJSON) {
		// A record holds JSON: bytes that are not JSON travel as a JSON string, which no
		// more parses as SPIRE's response than the bytes did.
		responseJSON = x5Must(json.Marshal(string(responseJSON)))
	}
	record := x5Must(json.Marshal(map[string]any{
		"id":        c.name,
		"type":      "x509pop",
		"payload":   json.RawMessage(payload),
		"challenge": json.RawMessage(challengeJSON),
		"response":  json.RawMessage(responseJSON),
	}))
	return verdict, record
}

func x5Answer(t testing.TB, c *x5Case, challenge *x509pop.Challenge) []byte {
	if c.answer != nil {
		return c.answer(t, challenge, c.key)
	}
	response, err := x509pop.CalculateResponse(c.key, challenge)
	if err != nil {
		// The key cannot answer this challenge (an Ed25519 key, or a key of the other
		// type): answer with no signature at all.
		return []byte(`{"rsa_signature":null,"ecdsa_signature":null}`)
	}
	return x5Must(json.Marshal(response))
}

// x5OfflineTranscript is a challenge as SPIRE would have sent it for the leaf (GenerateChallenge;
// for a leaf it refuses, one of the key's type with a fresh nonce) and the response to it.
func x5OfflineTranscript(t testing.TB, c *x5Case) ([]byte, []byte) {
	var challenge *x509pop.Challenge
	if len(c.certs) > 0 {
		if leaf, err := x509.ParseCertificate(c.certs[0]); err == nil {
			challenge, _ = x509pop.GenerateChallenge(leaf)
		}
	}
	if challenge == nil {
		switch c.key.(type) {
		case *rsa.PrivateKey:
			challenge = &x509pop.Challenge{RSASignature: x5Must(x509pop.GenerateRSASignatureChallenge())}
		default:
			challenge = &x509pop.Challenge{ECDSASignature: x5Must(x509pop.GenerateECDSASignatureChallenge())}
		}
	}
	var response []byte
	switch key := c.key.(type) {
	case *rsa.PrivateKey:
		if challenge.RSASignature != nil {
			r := x5Must(x509pop.CalculateRSASignatureResponse(key, challenge.RSASignature))
			response = x5Must(json.Marshal(x509pop.Response{RSASignature: r}))
		}
	case *ecdsa.PrivateKey:
		if challenge.ECDSASignature != nil {
			r := x5Must(x509pop.CalculateECDSASignatureResponse(key, challenge.ECDSASignature))
			response = x5Must(json.Marshal(x509pop.Response{ECDSASignature: r}))
		}
	}
	if c.answer != nil {
		response = c.answer(t, challenge, c.key)
	}
	if response == nil {
		response = []byte(`{"rsa_signature":null,"ecdsa_signature":null}`)
	}
	return x5Must(json.Marshal(challenge)), response
}

func x5SortedUnique(in []string) []string {
	sort.Strings(in)
	out := in[:0]
	for i, s := range in {
		if i == 0 || s != in[i-1] {
			out = append(out, s)
		}
	}
	return out
}

// x5Compare checks fleet-attest's run against SPIRE's verdict; it returns the problem, or "".
func x5Compare(t testing.TB, name string, spire x5Verdict, run confRun) string {
	exceptions := confExceptions(t)
	ours := "attested"
	switch {
	case run.exit == 1 && len(run.results) == 0:
		ours = "config refused"
	case run.exit != 0 || len(run.results) != 1:
		return fmt.Sprintf("fleet-attest exit %d with %d results; stderr: %s", run.exit, len(run.results), run.stderr)
	default:
		ours = run.results[0].code()
	}
	if e, ok := exceptions[name]; ok {
		confUse(name)
		spireSays := "attested"
		if spire.configErr != "" {
			spireSays = "config refused: " + spire.configErr
		} else if spire.attestErr != "" {
			spireSays = spire.attestErr
		}
		if spire.configErr == "" && spire.attestErr == "" && e.Spire == "config accepted" {
			spireSays = "config accepted"
		}
		if !strings.Contains(spireSays, e.Spire) {
			return fmt.Sprintf("exception says SPIRE gives %q, SPIRE gave %s", e.Spire, spire)
		}
		if ours != e.FleetAttest {
			return fmt.Sprintf("exception says fleet-attest gives %q, it gave %q (%s)", e.FleetAttest, ours, run.stderr)
		}
		return ""
	}
	switch {
	case spire.configErr != "":
		if ours != "config refused" {
			return fmt.Sprintf("SPIRE %s; fleet-attest accepted the config and gave %s", spire, ours)
		}
		if !strings.HasPrefix(run.stderr, "error: ") || strings.Count(strings.TrimSpace(run.stderr), "\n") != 0 {
			return fmt.Sprintf("config refused without one error line: %q", run.stderr)
		}
	case ours == "config refused":
		return fmt.Sprintf("fleet-attest refused the config (%s); SPIRE %s", strings.TrimSpace(run.stderr), spire)
	case spire.attestErr != "":
		want, ok := confExpectedCode(t, spire.attestErr)
		if !ok {
			return fmt.Sprintf("SPIRE's error %q is not in README.md's spire-errors table", spire.attestErr)
		}
		if ours != want {
			return fmt.Sprintf("SPIRE %s (README: %s); fleet-attest %s %+v", spire, want, ours, run.results[0])
		}
	default:
		r := run.results[0]
		if ours != "attested" {
			return fmt.Sprintf("SPIRE %s; fleet-attest %s: %s", spire, ours, r.Error.Message)
		}
		if r.AgentID != spire.agentID {
			return fmt.Sprintf("agent ID: SPIRE %s, fleet-attest %s", spire.agentID, r.AgentID)
		}
		if strings.Join(r.Selectors, "\n") != strings.Join(spire.selectors, "\n") {
			return fmt.Sprintf("selectors:\n  SPIRE        %q\n  fleet-attest %q", spire.selectors, r.Selectors)
		}
	}
	return ""
}

func TestX509PopConformance(t *testing.T) {
	cases := x5Cases(t)
	names := map[string]bool{}
	for _, c := range cases {
		if names[c.name] {
			t.Fatalf("two cases are named %q", c.name)
		}
		names[c.name] = true
	}
	if len(cases) < 300 {
		t.Errorf("only %d cases; the conformance suite keeps at least 300", len(cases))
	}
	failed := 0
	for _, c := range cases {
		ok := t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			paths := c.config.files(t, dir)
			now := time.Now().Unix()
			verdict, record := x5Spire(t, &c, paths)
			var extra []string
			if len(c.spiffeBundle) > 0 {
				bundle := filepath.Join(dir, "spire-bundle.pem")
				if err := os.WriteFile(bundle, x5PEM(c.spiffeBundle...), 0o644); err != nil {
					t.Fatal(err)
				}
				extra = append(extra, "--spire-bundle", bundle)
			}
			var records [][]byte
			if record != nil {
				records = append(records, record)
			} else {
				records = append(records, []byte(`{"type":"x509pop"}`))
			}
			run := confVerify(t, dir, c.config.toml(paths), records, now, extra...)
			if problem := x5Compare(t, c.name, verdict, run); problem != "" {
				t.Errorf("%s\n  config (HCL):\n%s  SPIRE: %s", problem, indent(c.config.hcl(paths)), verdict)
			}
		})
		if !ok {
			failed++
		}
	}
	confCheckExceptionsUsed(t, "x509pop/")
	t.Logf("%d x509pop cases, %d disagreements", len(cases), failed)
}

func indent(s string) string {
	var b strings.Builder
	for _, line := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		b.WriteString("    " + line + "\n")
	}
	return b.String()
}

// x5SignWith answers the challenge with another key (a proof that must fail).
func x5SignWith(other crypto.Signer) func(testing.TB, *x509pop.Challenge, crypto.Signer) []byte {
	return func(t testing.TB, challenge *x509pop.Challenge, _ crypto.Signer) []byte {
		response, err := x509pop.CalculateResponse(other, challenge)
		if err != nil {
			return []byte(`{"rsa_signature":null,"ecdsa_signature":null}`)
		}
		return x5Must(json.Marshal(response))
	}
}

// x5RawAnswer answers with fixed bytes.
func x5RawAnswer(text string) func(testing.TB, *x509pop.Challenge, crypto.Signer) []byte {
	return func(testing.TB, *x509pop.Challenge, crypto.Signer) []byte { return []byte(text) }
}

// x5Nonce returns n random bytes.
func x5Nonce(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// x5RSAResponse answers an RSA challenge with RSA-PSS at the given salt length, or with
// PKCS #1 v1.5 when salt is negative (a proof SPIRE must refuse).
func x5RSAResponse(t testing.TB, challenge *x509pop.Challenge, key crypto.Signer, salt int) []byte {
	rsaKey, ok := key.(*rsa.PrivateKey)
	if !ok || challenge.RSASignature == nil {
		return []byte(`{"rsa_signature":null,"ecdsa_signature":null}`)
	}
	nonce := x5Nonce(32)
	h := sha256.New()
	h.Write(challenge.RSASignature.Nonce)
	h.Write(nonce)
	digest := h.Sum(nil)
	var sig []byte
	if salt < 0 {
		sig = x5Must(rsa.SignPKCS1v15(rand.Reader, rsaKey, crypto.SHA256, digest))
	} else {
		sig = x5Must(rsa.SignPSS(rand.Reader, rsaKey, crypto.SHA256, digest, &rsa.PSSOptions{SaltLength: salt}))
	}
	return x5Must(json.Marshal(x509pop.Response{RSASignature: &x509pop.RSASignatureResponse{Nonce: nonce, Signature: sig}}))
}
