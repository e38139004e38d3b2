package spire

// Node aliases: a fleet-attest `[[node_alias]]` is a SPIRE registration entry whose parent is
// the server. SPIRE's CLI parses its selectors (util.ParseSelector) and its entry API checks
// the entry (api.ProtoToRegistrationEntry); fleet-attest must refuse at load exactly the
// aliases SPIRE refuses.

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/spire-api-sdk/proto/spire/api/types"
	serverutil "github.com/spiffe/spire/cmd/spire-server/util"
	"github.com/spiffe/spire/pkg/server/api"
)

// aliasSpire says whether SPIRE accepts the alias (and why not).
func aliasSpire(id string, selectors []string) error {
	td := spiffeid.RequireTrustDomainFromString(confTrustDomain)
	parsed, err := spiffeid.FromString(id)
	if err != nil {
		return err
	}
	entry := &types.Entry{
		ParentId: &types.SPIFFEID{TrustDomain: confTrustDomain, Path: "/spire/server"},
		SpiffeId: &types.SPIFFEID{TrustDomain: parsed.TrustDomain().Name(), Path: parsed.Path()},
	}
	for _, s := range selectors {
		sel, err := serverutil.ParseSelector(s)
		if err != nil {
			return err
		}
		entry.Selectors = append(entry.Selectors, sel)
	}
	_, err = api.ProtoToRegistrationEntry(context.Background(), td, entry)
	return err
}

func TestNodeAliasConformance(t *testing.T) {
	cases := []struct {
		id        string
		selectors []string
	}{
		{"spiffe://example.org/pool/blue", []string{"jwt:pool:blue"}},
		{"spiffe://example.org/pool/blue", []string{"x509pop:san:pool:blue", "x509pop:ca:fingerprint:abc"}},
		{"spiffe://example.org/spire/agent/x", []string{"jwt:pool:blue"}},
		{"spiffe://example.org/spire", []string{"jwt:pool:blue"}},
		{"spiffe://example.org/spire/server", []string{"jwt:pool:blue"}},
		{"spiffe://example.org/spirex", []string{"jwt:pool:blue"}},
		{"spiffe://example.org/Spire/x", []string{"jwt:pool:blue"}},
		{"spiffe://example.org", []string{"jwt:pool:blue"}},
		{"spiffe://example.org/", []string{"jwt:pool:blue"}},
		{"spiffe://other.org/pool", []string{"jwt:pool:blue"}},
		{"spiffe://example.org/a//b", []string{"jwt:pool:blue"}},
		{"spiffe://example.org/a/./b", []string{"jwt:pool:blue"}},
		{"spiffe://example.org/a b", []string{"jwt:pool:blue"}},
		{"spiffe://example.org/pool", []string{}},
		{"spiffe://example.org/pool", []string{":value"}},
		{"spiffe://example.org/pool", []string{"type:"}},
		{"spiffe://example.org/pool", []string{"noseparator"}},
		{"spiffe://example.org/pool", []string{"type::"}},
		{"spiffe://example.org/pool", []string{"type:a:b:c"}},
		{"spiffe://example.org/pool", []string{"jwt:pool:blue", "jwt:pool:blue"}},
		{"spiffe://example.org/pool", []string{"jwt: spaced"}},
	}
	for i, c := range cases {
		t.Run(fmt.Sprintf("alias/%02d", i), func(t *testing.T) {
			spireErr := aliasSpire(c.id, c.selectors)
			quoted := make([]string, len(c.selectors))
			for j, s := range c.selectors {
				quoted[j] = confTOMLString(s)
			}
			config := fmt.Sprintf("trust_domain = %s\n\n[join_token]\ntokens_path = \"tokens.csv\"\n\n[[node_alias]]\nspiffe_id = %s\nselectors = [%s]\n",
				confTOMLString(confTrustDomain), confTOMLString(c.id), strings.Join(quoted, ", "))
			dir := t.TempDir()
			writeFile(t, dir, "tokens.csv", "t1,9999999999\n")
			run := confVerify(t, dir, config, [][]byte{[]byte(`{"type":"join_token","token":"t1"}`)}, 1)
			refused := run.exit == 1 && len(run.results) == 0
			switch {
			case spireErr != nil && !refused:
				t.Errorf("%s %v: SPIRE refuses (%v); fleet-attest accepted it", c.id, c.selectors, spireErr)
			case spireErr == nil && refused:
				t.Errorf("%s %v: SPIRE accepts; fleet-attest refused: %s", c.id, c.selectors, run.stderr)
			case spireErr == nil && run.exit != 0:
				t.Errorf("%s %v: fleet-attest exit %d: %s", c.id, c.selectors, run.exit, run.stderr)
			}
		})
	}
}
