package spire

// The join_token conformance test. SPIRE attests join tokens in its agent API service
// (pkg/server/api/agent/v1, attestJoinToken), not in the join_token plugin, so the test runs
// that service as SPIRE's own tests do: over gRPC, with SPIRE's datastore (SQLite in memory)
// holding the tokens and a clock pinned to the run's `--now`. Every case's records are
// attested in order by SPIRE and by one `fleet-attest verify` run over the same tokens.

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/sirupsen/logrus/hooks/test"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	agentv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/agent/v1"
	"github.com/spiffe/spire-api-sdk/proto/spire/api/types"
	agent "github.com/spiffe/spire/pkg/server/api/agent/v1"
	"github.com/spiffe/spire/pkg/server/api/middleware"
	"github.com/spiffe/spire/pkg/server/api/rpccontext"
	"github.com/spiffe/spire/pkg/server/datastore"
	"github.com/spiffe/spire/test/clock"
	"github.com/spiffe/spire/test/fakes/fakedatastore"
	"github.com/spiffe/spire/test/fakes/fakeserverca"
	"github.com/spiffe/spire/test/fakes/fakeservercatalog"
	"github.com/spiffe/spire/test/grpctest"
	"google.golang.org/grpc"
)

type jtNoLimit struct{}

func (jtNoLimit) RateLimit(context.Context, int) error { return nil }

// jtServer is SPIRE's agent API with a datastore and a pinned clock.
type jtServer struct {
	client agentv1.AgentClient
	ds     datastore.DataStore
	csr    []byte
}

func jtStart(t *testing.T, now time.Time) *jtServer {
	td := spiffeid.RequireTrustDomainFromString(confTrustDomain)
	clk := clock.NewMockAt(t, now)
	ds := fakedatastore.New(t)
	service := agent.New(agent.Config{
		ServerCA:    fakeserverca.New(t, td, &fakeserverca.Options{Clock: clk}),
		DataStore:   ds,
		TrustDomain: td,
		Clock:       clk,
		Catalog:     fakeservercatalog.New(),
	})
	log, _ := test.NewNullLogger()
	log.Level = logrus.DebugLevel
	server := grpctest.StartServer(t, func(s grpc.ServiceRegistrar) {
		agent.RegisterService(s, service)
	},
		grpctest.OverrideContext(func(ctx context.Context) context.Context {
			ctx = rpccontext.WithLogger(ctx, log)
			return rpccontext.WithRateLimiter(ctx, jtNoLimit{})
		}),
		grpctest.Middleware(middleware.WithAuditLog(false)),
	)
	t.Cleanup(server.Stop)
	key := x5Must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader))
	csr := x5Must(x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, key))
	return &jtServer{client: agentv1.NewAgentClient(server.NewGRPCClient(t)), ds: ds, csr: csr}
}

// attest runs one AttestAgent stream for the token; returns the agent ID or the error.
func (s *jtServer) attest(t *testing.T, token string) (string, error) {
	stream, err := s.client.AttestAgent(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	err = stream.Send(&agentv1.AttestAgentRequest{
		Step: &agentv1.AttestAgentRequest_Params_{
			Params: &agentv1.AttestAgentRequest_Params{
				Data:   &types.AttestationData{Type: "join_token", Payload: []byte(token)},
				Params: &agentv1.AgentX509SVIDParams{Csr: s.csr},
			},
		},
	})
	if err != nil && !errors.Is(err, io.EOF) {
		t.Fatal(err)
	}
	resp, err := stream.Recv()
	if err != nil {
		return "", err
	}
	id := resp.GetResult().GetSvid().GetId()
	return fmt.Sprintf("spiffe://%s%s", id.GetTrustDomain(), id.GetPath()), nil
}

// jtToken is a token in the datastore: its value and expiry relative to `--now`.
type jtToken struct {
	value  string
	expiry time.Duration
}

// jtCase is a set of tokens and the tokens presented, in order.
type jtCase struct {
	name      string
	tokens    []jtToken
	presented []string
}

func jtCases() []jtCase {
	one := func(name string, expiry time.Duration) jtCase {
		token := "token-" + name
		return jtCase{name: name, tokens: []jtToken{{token, expiry}}, presented: []string{token}}
	}
	cases := []jtCase{
		one("valid-for-an-hour", time.Hour),
		one("expires-at-now", 0),
		one("expired-a-second-ago", -time.Second),
		one("expires-in-a-second", time.Second),
		one("expired-an-hour-ago", -time.Hour),
		one("valid-for-a-century", 100*365*24*time.Hour),
		{name: "unknown", tokens: []jtToken{{"known", time.Hour}}, presented: []string{"unknown"}},
		{name: "used-twice", tokens: []jtToken{{"twice", time.Hour}}, presented: []string{"twice", "twice"}},
		{name: "expired-used-twice", tokens: []jtToken{{"stale", -time.Minute}}, presented: []string{"stale", "stale"}},
		{name: "expires-at-now-used-twice", tokens: []jtToken{{"edge", 0}}, presented: []string{"edge", "edge"}},
		{name: "several-tokens", tokens: []jtToken{{"a1", time.Hour}, {"b2", time.Hour}, {"c3", -time.Hour}}, presented: []string{"b2", "c3", "a1", "d4", "b2"}},
		{name: "case-matters", tokens: []jtToken{{"Token-Case", time.Hour}}, presented: []string{"token-case", "Token-Case"}},
		{name: "uuid", tokens: []jtToken{{"7c0bcba1-7b0c-4a1e-9d3e-5f4a8a0e6e11", time.Hour}}, presented: []string{"7c0bcba1-7b0c-4a1e-9d3e-5f4a8a0e6e11"}},
	}
	for i, bad := range []string{"a/b", "a b", "tok%41", ".", "..", "with:colon", "ünï", "tab\tin", "a+b", "~tilde"} {
		cases = append(cases, jtCase{
			name:      fmt.Sprintf("not-a-path-segment-%d", i),
			tokens:    []jtToken{{bad, time.Hour}},
			presented: []string{bad, bad},
		})
	}
	for i, ok := range []string{"a.b", "A_B-c", "...", "-", "_"} {
		cases = append(cases, jtCase{
			name:      fmt.Sprintf("path-segment-%d", i),
			tokens:    []jtToken{{ok, time.Hour}},
			presented: []string{ok},
		})
	}
	return cases
}

func TestJoinTokenConformance(t *testing.T) {
	cases := jtCases()
	for _, c := range cases {
		t.Run("join_token/"+c.name, func(t *testing.T) {
			now := time.Unix(time.Now().Unix(), 0)
			server := jtStart(t, now)
			var csv strings.Builder
			for _, tok := range c.tokens {
				expiry := now.Add(tok.expiry)
				if err := server.ds.CreateJoinToken(context.Background(), &datastore.JoinToken{Token: tok.value, Expiry: expiry}); err != nil {
					t.Fatal(err)
				}
				fmt.Fprintf(&csv, "%s,%d\n", tok.value, expiry.Unix())
			}
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "tokens.csv"), []byte(csv.String()), 0o644); err != nil {
				t.Fatal(err)
			}
			var records [][]byte
			for i, token := range c.presented {
				records = append(records, x5Must(json.Marshal(map[string]string{
					"id": fmt.Sprintf("%s-%d", c.name, i), "type": "join_token", "token": token,
				})))
			}
			config := fmt.Sprintf("trust_domain = %s\n\n[join_token]\ntokens_path = \"tokens.csv\"\n", confTOMLString(confTrustDomain))
			run := confVerify(t, dir, config, records, now.Unix())
			if run.exit != 0 || len(run.results) != len(records) {
				t.Fatalf("fleet-attest exit %d, %d results: %s", run.exit, len(run.results), run.stderr)
			}
			created := map[string]bool{}
			for _, tok := range c.tokens {
				created[tok.value] = true
			}
			for i, token := range c.presented {
				id, err := server.attest(t, token)
				ours := run.results[i]
				if err == nil {
					if ours.code() != "attested" || ours.AgentID != id || len(ours.Selectors) != 0 {
						t.Errorf("%q: SPIRE attested %s; fleet-attest %s %s %v", token, id, ours.code(), ours.AgentID, ours.Error)
					}
					continue
				}
				want, ok := confExpectedCode(t, err.Error())
				if !ok {
					t.Errorf("%q: SPIRE's error %q is not in README.md's spire-errors table", token, err)
					continue
				}
				// SPIRE says the same for a token it never had and for one already used (and
				// deleted); the case knows which it is.
				if strings.Contains(err.Error(), "does not exist or has already been used") && created[token] {
					want = "replay/replayed"
				}
				if ours.code() != want {
					t.Errorf("%q: SPIRE %v (README: %s); fleet-attest %s %v", token, err, want, ours.code(), ours.Error)
				}
			}
		})
	}
}
