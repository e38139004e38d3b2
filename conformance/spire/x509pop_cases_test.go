package spire

// The x509pop cases, by what they vary: the trust bundle's own certificates, intermediates,
// leaves and their keys, URI SANs, subject common names, serial numbers, templates, SPIFFE
// mode, configurations SPIRE refuses, payloads and transcripts.

import (
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/json"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/spiffe/spire/pkg/common/plugin/x509pop"
)

func x5Cases(t testing.TB) []x5Case {
	var cases []x5Case
	for _, group := range []func(testing.TB) []x5Case{
		x5BundleCases,
		x5IntermediateCases,
		x5LeafCases,
		x5KeyCases,
		x5SANCases,
		x5CommonNameCases,
		x5SerialCases,
		x5TemplateCases,
		x5SpiffeModeCases,
		x5ConfigCases,
		x5PayloadCases,
		x5TranscriptCases,
		x5SignatureCases,
		x5NameConstraintCases,
		x5ParseCases,
		x5PolicyCases,
	} {
		cases = append(cases, group(t)...)
	}
	return cases
}

// x5Case builder: the chain's leaf and intermediate in the payload, the root in the bundle.
func x5From(name string, ch x5Chain) x5Case {
	return x5Case{
		name:   "x509pop/" + name,
		config: x5Config{bundles: [][]*x5Cert{{ch.root}}},
		certs:  [][]byte{ch.leaf.der, ch.inter.der},
		key:    ch.leaf.key,
	}
}

func x5Modify(tmpl *x509.Certificate, edit func(*x509.Certificate)) *x509.Certificate {
	edit(tmpl)
	return tmpl
}

func x5BundleCases(t testing.TB) []x5Case {
	var cases []x5Case
	now := time.Now()
	// The root as given by edit, an intermediate and a leaf under it.
	withRoot := func(name string, edit func(*x509.Certificate), rootKey string) {
		root := x5Issue(t, x5Modify(x5CA("root "+name), edit), x5NewKey(t, rootKey), nil)
		inter := x5Issue(t, x5CA("intermediate"), x5NewKey(t, "p256"), root)
		leaf := x5Issue(t, x5Leaf("node-"+name), x5NewKey(t, "p256"), inter)
		cases = append(cases, x5From("bundle/"+name, x5Chain{root, inter, leaf}))
	}
	withRoot("valid-root", func(*x509.Certificate) {}, "p256")
	withRoot("expired-root", func(c *x509.Certificate) { c.NotAfter = now.Add(-time.Hour); c.NotBefore = now.Add(-48 * time.Hour) }, "p256")
	withRoot("not-yet-valid-root", func(c *x509.Certificate) { c.NotBefore = now.Add(time.Hour) }, "p256")
	withRoot("root-ca-false", func(c *x509.Certificate) { c.IsCA = false }, "p256")
	withRoot("root-no-basic-constraints", func(c *x509.Certificate) { c.BasicConstraintsValid = false; c.IsCA = false }, "p256")
	withRoot("root-without-keycertsign", func(c *x509.Certificate) { c.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageCRLSign }, "p256")
	withRoot("root-without-key-usage", func(c *x509.Certificate) { c.KeyUsage = 0 }, "p256")
	withRoot("root-pathlen-0-above-intermediate", func(c *x509.Certificate) { c.MaxPathLen = 0; c.MaxPathLenZero = true }, "p256")
	withRoot("root-pathlen-1", func(c *x509.Certificate) { c.MaxPathLen = 1 }, "p256")
	withRoot("root-rsa2048", func(*x509.Certificate) {}, "rsa2048")
	withRoot("root-rsa4096", func(*x509.Certificate) {}, "rsa4096")
	withRoot("root-p384", func(*x509.Certificate) {}, "p384")
	withRoot("root-p521", func(*x509.Certificate) {}, "p521")
	withRoot("root-ed25519", func(*x509.Certificate) {}, "ed25519")
	withRoot("root-with-eku-server-auth", func(c *x509.Certificate) { c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth} }, "p256")
	withRoot("root-expiring-in-a-minute", func(c *x509.Certificate) { c.NotAfter = now.Add(time.Minute) }, "p256")

	// A root whose pathLen 0 allows a leaf right under it.
	{
		root := x5Issue(t, x5Modify(x5CA("root pathlen 0"), func(c *x509.Certificate) { c.MaxPathLen = 0; c.MaxPathLenZero = true }), x5NewKey(t, "p256"), nil)
		leaf := x5Issue(t, x5Leaf("node-under-root"), x5NewKey(t, "p256"), root)
		cases = append(cases, x5Case{name: "x509pop/bundle/root-pathlen-0-leaf-directly-under", config: x5Config{bundles: [][]*x5Cert{{root}}}, certs: [][]byte{leaf.der}, key: leaf.key})
		cases = append(cases, x5Case{name: "x509pop/bundle/leaf-directly-under-root-with-unused-intermediate", config: x5Config{bundles: [][]*x5Cert{{root}}}, certs: [][]byte{leaf.der, x5Standard(t, nil).inter.der}, key: leaf.key})
	}
	// pathLen 1 with two intermediates below the root.
	{
		root := x5Issue(t, x5Modify(x5CA("root pathlen 1"), func(c *x509.Certificate) { c.MaxPathLen = 1 }), x5NewKey(t, "p256"), nil)
		i1 := x5Issue(t, x5CA("intermediate 1"), x5NewKey(t, "p256"), root)
		i2 := x5Issue(t, x5CA("intermediate 2"), x5NewKey(t, "p256"), i1)
		leaf := x5Issue(t, x5Leaf("node-pathlen"), x5NewKey(t, "p256"), i2)
		cases = append(cases, x5Case{name: "x509pop/bundle/root-pathlen-1-two-intermediates", config: x5Config{bundles: [][]*x5Cert{{root}}}, certs: [][]byte{leaf.der, i2.der, i1.der}, key: leaf.key})
	}
	ch := x5Standard(t, nil)
	// The leaf itself in the bundle.
	cases = append(cases,
		x5Case{name: "x509pop/bundle/leaf-in-bundle-alone", config: x5Config{bundles: [][]*x5Cert{{ch.leaf}}}, certs: [][]byte{ch.leaf.der}, key: ch.leaf.key},
		x5Case{name: "x509pop/bundle/leaf-in-bundle-with-intermediate-in-payload", config: x5Config{bundles: [][]*x5Cert{{ch.leaf}}}, certs: [][]byte{ch.leaf.der, ch.inter.der}, key: ch.leaf.key},
		x5Case{name: "x509pop/bundle/leaf-and-root-in-bundle", config: x5Config{bundles: [][]*x5Cert{{ch.root, ch.leaf}}}, certs: [][]byte{ch.leaf.der, ch.inter.der}, key: ch.leaf.key},
		x5Case{name: "x509pop/bundle/intermediate-in-bundle", config: x5Config{bundles: [][]*x5Cert{{ch.inter}}}, certs: [][]byte{ch.leaf.der}, key: ch.leaf.key},
		x5Case{name: "x509pop/bundle/intermediate-in-bundle-and-payload", config: x5Config{bundles: [][]*x5Cert{{ch.inter}}}, certs: [][]byte{ch.leaf.der, ch.inter.der}, key: ch.leaf.key},
		x5Case{name: "x509pop/bundle/root-and-intermediate-in-bundle", config: x5Config{bundles: [][]*x5Cert{{ch.root, ch.inter}}}, certs: [][]byte{ch.leaf.der, ch.inter.der}, key: ch.leaf.key},
		x5Case{name: "x509pop/bundle/root-and-intermediate-in-bundle-leaf-alone", config: x5Config{bundles: [][]*x5Cert{{ch.root, ch.inter}}}, certs: [][]byte{ch.leaf.der}, key: ch.leaf.key},
		x5Case{name: "x509pop/bundle/root-twice-in-bundle", config: x5Config{bundles: [][]*x5Cert{{ch.root, ch.root}}}, certs: [][]byte{ch.leaf.der, ch.inter.der}, key: ch.leaf.key},
		x5Case{name: "x509pop/bundle/two-files-root-in-second", config: x5Config{bundles: [][]*x5Cert{{x5Standard(t, nil).root}, {ch.root}}}, certs: [][]byte{ch.leaf.der, ch.inter.der}, key: ch.leaf.key},
		x5Case{name: "x509pop/bundle/same-file-twice", config: x5Config{bundles: [][]*x5Cert{{ch.root}, {ch.root}}}, certs: [][]byte{ch.leaf.der, ch.inter.der}, key: ch.leaf.key},
		x5Case{name: "x509pop/bundle/unrelated-root-only", config: x5Config{bundles: [][]*x5Cert{{x5Standard(t, nil).root}}}, certs: [][]byte{ch.leaf.der, ch.inter.der}, key: ch.leaf.key},
		x5Case{name: "x509pop/bundle/root-in-payload-too", config: x5Config{bundles: [][]*x5Cert{{ch.root}}}, certs: [][]byte{ch.leaf.der, ch.inter.der, ch.root.der}, key: ch.leaf.key},
		x5Case{name: "x509pop/bundle/missing-intermediate", config: x5Config{bundles: [][]*x5Cert{{ch.root}}}, certs: [][]byte{ch.leaf.der}, key: ch.leaf.key},
		x5Case{name: "x509pop/bundle/singular-path", config: x5Config{bundles: [][]*x5Cert{{ch.root}}, singular: true}, certs: [][]byte{ch.leaf.der, ch.inter.der}, key: ch.leaf.key},
		x5Case{name: "x509pop/bundle/singular-path-two-roots", config: x5Config{bundles: [][]*x5Cert{{x5Standard(t, nil).root, ch.root}}, singular: true}, certs: [][]byte{ch.leaf.der, ch.inter.der}, key: ch.leaf.key},
	)
	// A PEM file with a key and a CRL-typed block before the certificate (SPIRE skips
	// blocks that are not CERTIFICATE).
	{
		other := []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\nsome text between blocks\n")
		raw := append(other, x5PEM(ch.root)...)
		cases = append(cases, x5Case{name: "x509pop/bundle/file-with-other-pem-blocks", config: x5Config{rawBundles: [][]byte{raw}}, certs: [][]byte{ch.leaf.der, ch.inter.der}, key: ch.leaf.key})
	}
	// Cross-signed roots: the same intermediate (subject and key) issued by two roots.
	{
		rootA := x5Issue(t, x5CA("root A"), x5NewKey(t, "p256"), nil)
		rootB := x5Issue(t, x5CA("root B"), x5NewKey(t, "p256"), nil)
		interKey := x5NewKey(t, "p256")
		interA := x5Issue(t, x5CA("cross intermediate"), interKey, rootA)
		interB := x5Issue(t, x5CA("cross intermediate"), interKey, rootB)
		leaf := x5Issue(t, x5Leaf("node-cross"), x5NewKey(t, "p256"), interA)
		cases = append(cases,
			x5Case{name: "x509pop/bundle/cross-signed-both-roots", config: x5Config{bundles: [][]*x5Cert{{rootA, rootB}}}, certs: [][]byte{leaf.der, interA.der, interB.der}, key: leaf.key},
			x5Case{name: "x509pop/bundle/cross-signed-only-root-b", config: x5Config{bundles: [][]*x5Cert{{rootB}}}, certs: [][]byte{leaf.der, interA.der, interB.der}, key: leaf.key},
			x5Case{name: "x509pop/bundle/cross-signed-one-intermediate-given", config: x5Config{bundles: [][]*x5Cert{{rootA, rootB}}}, certs: [][]byte{leaf.der, interB.der}, key: leaf.key},
		)
		// Root B cross-signed by root A: leaf -> inter(B) -> B -> A.
		bByA := x5Issue(t, x5CA("root B"), rootB.key, rootA)
		cases = append(cases,
			x5Case{name: "x509pop/bundle/cross-signed-root-chain", config: x5Config{bundles: [][]*x5Cert{{rootA}}}, certs: [][]byte{leaf.der, interB.der, bByA.der}, key: leaf.key},
			x5Case{name: "x509pop/bundle/cross-signed-root-and-self-signed-both-trusted", config: x5Config{bundles: [][]*x5Cert{{rootA, rootB}}}, certs: [][]byte{leaf.der, interB.der, bByA.der}, key: leaf.key},
		)
	}
	// Two roots with the same subject, different keys: only one signed the intermediate.
	{
		name := "root same subject"
		rootA := x5Issue(t, x5CA(name), x5NewKey(t, "p256"), nil)
		rootB := x5Issue(t, x5CA(name), x5NewKey(t, "p256"), nil)
		inter := x5Issue(t, x5CA("intermediate same subject"), x5NewKey(t, "p256"), rootB)
		leaf := x5Issue(t, x5Leaf("node-same-subject"), x5NewKey(t, "p256"), inter)
		cases = append(cases, x5Case{name: "x509pop/bundle/two-roots-same-subject", config: x5Config{bundles: [][]*x5Cert{{rootA, rootB}}}, certs: [][]byte{leaf.der, inter.der}, key: leaf.key})
	}
	// A v1 root (no extensions at all): Go lets a v1 certificate sign.
	{
		key := x5NewKey(t, "p256")
		tmpl := x5CA("v1 root")
		made := x5Issue(t, tmpl, key, nil)
		v1 := x5Resign(t, made.der, key, func(elems []asn1.RawValue) []asn1.RawValue {
			// Drop the version ([0]) and the extensions ([3]).
			var out []asn1.RawValue
			for _, e := range elems {
				if e.Class == asn1.ClassContextSpecific && (e.Tag == 0 || e.Tag == 3) {
					continue
				}
				out = append(out, e)
			}
			return out
		})
		root := x5Raw(v1, key)
		if root.cert == nil {
			t.Fatal("Go refused the v1 root")
		}
		inter := x5Issue(t, x5CA("intermediate under v1"), x5NewKey(t, "p256"), root)
		leaf := x5Issue(t, x5Leaf("node-v1"), x5NewKey(t, "p256"), inter)
		cases = append(cases, x5From("bundle/v1-root", x5Chain{root, inter, leaf}))
		leaf2 := x5Issue(t, x5Leaf("node-v1-direct"), x5NewKey(t, "p256"), root)
		cases = append(cases, x5Case{name: "x509pop/bundle/v1-root-leaf-directly-under", config: x5Config{bundles: [][]*x5Cert{{root}}}, certs: [][]byte{leaf2.der}, key: leaf2.key})
	}
	// A root with an unknown critical extension.
	{
		key := x5NewKey(t, "p256")
		made := x5Issue(t, x5CA("root critical"), key, nil)
		der := x5Resign(t, made.der, key, func(elems []asn1.RawValue) []asn1.RawValue {
			exts := append(x5Extensions(made.cert), x5Ext(asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 1}, true, []byte{0x05, 0x00}))
			return x5WithExtensions(elems, exts...)
		})
		root := x5Raw(der, key)
		inter := x5Issue(t, x5CA("intermediate"), x5NewKey(t, "p256"), root)
		leaf := x5Issue(t, x5Leaf("node-root-critical"), x5NewKey(t, "p256"), inter)
		cases = append(cases, x5From("bundle/root-unknown-critical-extension", x5Chain{root, inter, leaf}))
		// The same extension, not critical.
		made2 := x5Issue(t, x5CA("root noncritical"), key, nil)
		der2 := x5Resign(t, made2.der, key, func(elems []asn1.RawValue) []asn1.RawValue {
			exts := append(x5Extensions(made2.cert), x5Ext(asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 1}, false, []byte{0x05, 0x00}))
			return x5WithExtensions(elems, exts...)
		})
		root2 := x5Raw(der2, key)
		inter2 := x5Issue(t, x5CA("intermediate"), x5NewKey(t, "p256"), root2)
		leaf2 := x5Issue(t, x5Leaf("node-root-noncritical"), x5NewKey(t, "p256"), inter2)
		cases = append(cases, x5From("bundle/root-unknown-noncritical-extension", x5Chain{root2, inter2, leaf2}))
	}
	// A root whose self-signature is wrong: Go does not check a trust anchor's own signature.
	{
		key := x5NewKey(t, "p256")
		made := x5Issue(t, x5CA("root bad self signature"), key, nil)
		der := x5Resign(t, made.der, x5NewKey(t, "p256"), func(e []asn1.RawValue) []asn1.RawValue { return e })
		root := x5Raw(der, key)
		inter := x5Issue(t, x5CA("intermediate"), x5NewKey(t, "p256"), root)
		leaf := x5Issue(t, x5Leaf("node-bad-self-sig"), x5NewKey(t, "p256"), inter)
		cases = append(cases, x5From("bundle/root-bad-self-signature", x5Chain{root, inter, leaf}))
	}
	return cases
}

func x5IntermediateCases(t testing.TB) []x5Case {
	var cases []x5Case
	now := time.Now()
	withInter := func(name string, edit func(*x509.Certificate), key string) {
		root := x5Issue(t, x5CA("root"), x5NewKey(t, "p256"), nil)
		inter := x5Issue(t, x5Modify(x5CA("intermediate "+name), edit), x5NewKey(t, key), root)
		leaf := x5Issue(t, x5Leaf("node-"+name), x5NewKey(t, "p256"), inter)
		cases = append(cases, x5From("intermediate/"+name, x5Chain{root, inter, leaf}))
	}
	withInter("no-keycertsign", func(c *x509.Certificate) { c.KeyUsage = x509.KeyUsageDigitalSignature }, "p256")
	withInter("no-key-usage", func(c *x509.Certificate) { c.KeyUsage = 0 }, "p256")
	withInter("ca-false", func(c *x509.Certificate) { c.IsCA = false }, "p256")
	withInter("no-basic-constraints", func(c *x509.Certificate) { c.BasicConstraintsValid = false; c.IsCA = false }, "p256")
	withInter("expired", func(c *x509.Certificate) { c.NotAfter = now.Add(-time.Hour); c.NotBefore = now.Add(-72 * time.Hour) }, "p256")
	withInter("not-yet-valid", func(c *x509.Certificate) { c.NotBefore = now.Add(2 * time.Hour) }, "p256")
	withInter("pathlen-0", func(c *x509.Certificate) { c.MaxPathLen = 0; c.MaxPathLenZero = true }, "p256")
	withInter("rsa2048", func(*x509.Certificate) {}, "rsa2048")
	withInter("rsa1024", func(*x509.Certificate) {}, "rsa1024")
	withInter("p384", func(*x509.Certificate) {}, "p384")
	withInter("p521", func(*x509.Certificate) {}, "p521")
	withInter("ed25519", func(*x509.Certificate) {}, "ed25519")
	withInter("eku-server-auth-only", func(c *x509.Certificate) { c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth} }, "p256")
	withInter("eku-code-signing", func(c *x509.Certificate) { c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning} }, "p256")
	withInter("digital-signature-and-certsign", func(c *x509.Certificate) { c.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature }, "p256")
	withInter("no-subject-key-id", func(c *x509.Certificate) { c.SubjectKeyId = []byte{} }, "p256")
	withInter("expires-before-leaf", func(c *x509.Certificate) { c.NotAfter = now.Add(24 * time.Hour) }, "p256")

	// pathLen 0 on an intermediate with another intermediate below it.
	{
		root := x5Issue(t, x5CA("root"), x5NewKey(t, "p256"), nil)
		i1 := x5Issue(t, x5Modify(x5CA("inter pathlen 0"), func(c *x509.Certificate) { c.MaxPathLen = 0; c.MaxPathLenZero = true }), x5NewKey(t, "p256"), root)
		i2 := x5Issue(t, x5CA("inter below"), x5NewKey(t, "p256"), i1)
		leaf := x5Issue(t, x5Leaf("node-pathlen0"), x5NewKey(t, "p256"), i2)
		cases = append(cases, x5Case{name: "x509pop/intermediate/pathlen-0-above-another", config: x5Config{bundles: [][]*x5Cert{{root}}}, certs: [][]byte{leaf.der, i2.der, i1.der}, key: leaf.key})
	}
	// Chains of n intermediates.
	for _, n := range []int{2, 3, 4, 5, 6} {
		root := x5Issue(t, x5CA("root"), x5NewKey(t, "p256"), nil)
		parent := root
		var inters []*x5Cert
		for i := 0; i < n; i++ {
			parent = x5Issue(t, x5CA(fmt.Sprintf("inter %d", i)), x5NewKey(t, "p256"), parent)
			inters = append(inters, parent)
		}
		leaf := x5Issue(t, x5Leaf(fmt.Sprintf("node-%d-inters", n)), x5NewKey(t, "p256"), parent)
		certs := [][]byte{leaf.der}
		for i := n - 1; i >= 0; i-- {
			certs = append(certs, inters[i].der)
		}
		cases = append(cases, x5Case{name: fmt.Sprintf("x509pop/intermediate/chain-of-%d", n), config: x5Config{bundles: [][]*x5Cert{{root}}}, certs: certs, key: leaf.key})
		// The same intermediates in reverse order.
		rev := [][]byte{leaf.der}
		for i := 0; i < n; i++ {
			rev = append(rev, inters[i].der)
		}
		cases = append(cases, x5Case{name: fmt.Sprintf("x509pop/intermediate/chain-of-%d-reversed", n), config: x5Config{bundles: [][]*x5Cert{{root}}}, certs: rev, key: leaf.key})
		if n == 5 {
			cases = append(cases, x5Case{name: "x509pop/intermediate/chain-of-5-max-5", config: x5Config{bundles: [][]*x5Cert{{root}}, maxIntermediates: ptr(5)}, certs: certs, key: leaf.key})
		}
	}
	// Unrelated and duplicate intermediates in the payload.
	{
		ch := x5Standard(t, nil)
		other := x5Standard(t, nil)
		c := x5From("intermediate/unrelated-extra", ch)
		c.certs = append(c.certs, other.inter.der)
		cases = append(cases, c)
		c2 := x5From("intermediate/duplicated", ch)
		c2.certs = append(c2.certs, ch.inter.der)
		cases = append(cases, c2)
		c3 := x5From("intermediate/only-unrelated", ch)
		c3.certs = [][]byte{ch.leaf.der, other.inter.der}
		cases = append(cases, c3)
		c4 := x5From("intermediate/leaf-repeated-as-intermediate", ch)
		c4.certs = append(c4.certs, ch.leaf.der)
		cases = append(cases, c4)
	}
	// Two intermediates with the same subject and different keys: only one signed the leaf.
	{
		root := x5Issue(t, x5CA("root"), x5NewKey(t, "p256"), nil)
		good := x5Issue(t, x5CA("twin intermediate"), x5NewKey(t, "p256"), root)
		twin := x5Issue(t, x5CA("twin intermediate"), x5NewKey(t, "p256"), root)
		leaf := x5Issue(t, x5Leaf("node-twins"), x5NewKey(t, "p256"), good)
		cases = append(cases,
			x5Case{name: "x509pop/intermediate/twin-subjects-wrong-first", config: x5Config{bundles: [][]*x5Cert{{root}}}, certs: [][]byte{leaf.der, twin.der, good.der}, key: leaf.key},
			x5Case{name: "x509pop/intermediate/twin-subjects-only-wrong", config: x5Config{bundles: [][]*x5Cert{{root}}}, certs: [][]byte{leaf.der, twin.der}, key: leaf.key},
		)
	}
	// An intermediate whose authority key ID does not match the root's subject key ID.
	{
		root := x5Issue(t, x5CA("root"), x5NewKey(t, "p256"), nil)
		inter := x5Issue(t, x5Modify(x5CA("inter akid"), func(c *x509.Certificate) { c.AuthorityKeyId = []byte{1, 2, 3, 4} }), x5NewKey(t, "p256"), root)
		leaf := x5Issue(t, x5Leaf("node-akid"), x5NewKey(t, "p256"), inter)
		cases = append(cases, x5From("intermediate/mismatched-authority-key-id", x5Chain{root, inter, leaf}))
	}
	// An intermediate with an unknown critical extension.
	{
		root := x5Issue(t, x5CA("root"), x5NewKey(t, "p256"), nil)
		made := x5Issue(t, x5CA("inter critical"), x5NewKey(t, "p256"), root)
		der := x5Resign(t, made.der, root.key, func(elems []asn1.RawValue) []asn1.RawValue {
			exts := append(x5Extensions(made.cert), x5Ext(asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 2}, true, []byte{0x05, 0x00}))
			return x5WithExtensions(elems, exts...)
		})
		inter := x5Raw(der, made.key)
		leaf := x5Issue(t, x5Leaf("node-inter-critical"), x5NewKey(t, "p256"), inter)
		cases = append(cases, x5From("intermediate/unknown-critical-extension", x5Chain{root, inter, leaf}))
	}
	// An intermediate whose signature was made by another key.
	{
		root := x5Issue(t, x5CA("root"), x5NewKey(t, "p256"), nil)
		made := x5Issue(t, x5CA("inter forged"), x5NewKey(t, "p256"), root)
		der := x5Resign(t, made.der, x5NewKey(t, "p256"), func(e []asn1.RawValue) []asn1.RawValue { return e })
		inter := x5Raw(der, made.key)
		leaf := x5Issue(t, x5Leaf("node-inter-forged"), x5NewKey(t, "p256"), inter)
		cases = append(cases, x5From("intermediate/bad-signature", x5Chain{root, inter, leaf}))
	}
	return cases
}

func x5LeafCases(t testing.TB) []x5Case {
	var cases []x5Case
	now := time.Now()
	withLeaf := func(name string, edit func(*x509.Certificate)) {
		ch := x5Standard(t, x5Modify(x5Leaf("node-"+name), edit))
		cases = append(cases, x5From("leaf/"+name, ch))
	}
	withLeaf("valid", func(*x509.Certificate) {})
	withLeaf("ca-true", func(c *x509.Certificate) { c.BasicConstraintsValid = true; c.IsCA = true })
	withLeaf("ca-false-explicit", func(c *x509.Certificate) { c.BasicConstraintsValid = true; c.IsCA = false })
	withLeaf("no-digital-signature", func(c *x509.Certificate) { c.KeyUsage = x509.KeyUsageKeyEncipherment })
	withLeaf("no-key-usage", func(c *x509.Certificate) { c.KeyUsage = 0 })
	withLeaf("key-usage-all", func(c *x509.Certificate) {
		c.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment | x509.KeyUsageKeyEncipherment | x509.KeyUsageDataEncipherment | x509.KeyUsageKeyAgreement | x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageEncipherOnly | x509.KeyUsageDecipherOnly
	})
	withLeaf("eku-none", func(c *x509.Certificate) { c.ExtKeyUsage = nil })
	withLeaf("eku-server-auth", func(c *x509.Certificate) { c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth} })
	withLeaf("eku-code-signing", func(c *x509.Certificate) { c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning} })
	withLeaf("eku-any", func(c *x509.Certificate) { c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageAny} })
	withLeaf("eku-email-and-timestamp", func(c *x509.Certificate) {
		c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection, x509.ExtKeyUsageTimeStamping}
	})
	withLeaf("eku-unknown-oid", func(c *x509.Certificate) {
		c.UnknownExtKeyUsage = []asn1.ObjectIdentifier{{1, 3, 6, 1, 4, 1, 99999, 3}}
	})
	withLeaf("expired", func(c *x509.Certificate) { c.NotBefore = now.Add(-72 * time.Hour); c.NotAfter = now.Add(-time.Hour) })
	withLeaf("not-yet-valid", func(c *x509.Certificate) { c.NotBefore = now.Add(time.Hour) })
	withLeaf("valid-for-a-minute-more", func(c *x509.Certificate) { c.NotAfter = now.Add(time.Minute) })
	withLeaf("valid-for-a-century", func(c *x509.Certificate) { c.NotAfter = now.Add(100 * 365 * 24 * time.Hour) })
	withLeaf("generalized-time-after-2050", func(c *x509.Certificate) { c.NotAfter = time.Date(2051, 1, 1, 0, 0, 0, 0, time.UTC) })
	withLeaf("dns-and-ip-sans", func(c *x509.Certificate) {
		c.DNSNames = []string{"node-1.example.org"}
		c.IPAddresses = []net.IP{net.ParseIP("10.0.0.1"), net.ParseIP("2001:db8::1")}
		c.EmailAddresses = []string{"ops@example.org"}
	})
	withLeaf("subject-key-id", func(c *x509.Certificate) { c.SubjectKeyId = []byte{9, 8, 7, 6} })
	withLeaf("policies", func(c *x509.Certificate) { c.PolicyIdentifiers = []asn1.ObjectIdentifier{{2, 5, 29, 32, 0}} })
	withLeaf("ocsp-and-crl-urls", func(c *x509.Certificate) {
		c.OCSPServer = []string{"http://ocsp.example.org"}
		c.IssuingCertificateURL = []string{"http://ca.example.org/ca.crt"}
		c.CRLDistributionPoints = []string{"http://ca.example.org/ca.crl"}
	})

	// The leaf signed directly by the root, with no intermediate.
	{
		root := x5Issue(t, x5CA("root"), x5NewKey(t, "p256"), nil)
		leaf := x5Issue(t, x5Leaf("node-direct"), x5NewKey(t, "p256"), root)
		cases = append(cases, x5Case{name: "x509pop/leaf/directly-under-root", config: x5Config{bundles: [][]*x5Cert{{root}}}, certs: [][]byte{leaf.der}, key: leaf.key})
	}
	// A self-signed leaf not in the bundle.
	{
		key := x5NewKey(t, "p256")
		leaf := x5Issue(t, x5Leaf("node-self-signed"), key, nil)
		cases = append(cases, x5Case{name: "x509pop/leaf/self-signed-untrusted", config: x5Config{bundles: [][]*x5Cert{{x5Standard(t, nil).root}}}, certs: [][]byte{leaf.der}, key: key})
		cases = append(cases, x5Case{name: "x509pop/leaf/self-signed-in-bundle", config: x5Config{bundles: [][]*x5Cert{{leaf}}}, certs: [][]byte{leaf.der}, key: key})
	}
	// A leaf with an unknown critical extension, and with an unknown non-critical one.
	for _, critical := range []bool{true, false} {
		ch := x5Standard(t, nil)
		der := x5Resign(t, ch.leaf.der, ch.inter.key, func(elems []asn1.RawValue) []asn1.RawValue {
			exts := append(x5Extensions(ch.leaf.cert), x5Ext(asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 4}, critical, []byte{0x05, 0x00}))
			return x5WithExtensions(elems, exts...)
		})
		ch.leaf = x5Raw(der, ch.leaf.key)
		cases = append(cases, x5From(fmt.Sprintf("leaf/unknown-extension-critical-%v", critical), ch))
	}
	// A leaf whose signature was made by a key other than its issuer's.
	{
		ch := x5Standard(t, nil)
		der := x5Resign(t, ch.leaf.der, x5NewKey(t, "p256"), func(e []asn1.RawValue) []asn1.RawValue { return e })
		ch.leaf = x5Raw(der, ch.leaf.key)
		cases = append(cases, x5From("leaf/bad-signature", ch))
	}
	return cases
}

func x5KeyCases(t testing.TB) []x5Case {
	var cases []x5Case
	for _, kind := range []string{"p224", "p256", "p384", "p521", "ed25519", "rsa1024", "rsa2048", "rsa3072", "rsa4096", "rsa8192", "rsa8200"} {
		root := x5Issue(t, x5CA("root"), x5NewKey(t, "p256"), nil)
		inter := x5Issue(t, x5CA("intermediate"), x5NewKey(t, "p256"), root)
		leaf := x5Issue(t, x5Leaf("node-"+kind), x5NewKey(t, kind), inter)
		cases = append(cases, x5From("key/leaf-"+kind, x5Chain{root, inter, leaf}))
	}
	// An RSA leaf and an intermediate whose sizes straddle max_rsa_key_size.
	{
		root := x5Issue(t, x5CA("root"), x5NewKey(t, "p256"), nil)
		inter := x5Issue(t, x5CA("intermediate rsa4096"), x5NewKey(t, "rsa4096"), root)
		leaf := x5Issue(t, x5Leaf("node-rsa-limits"), x5NewKey(t, "rsa3072"), inter)
		c := x5From("key/rsa-intermediate-over-configured-max", x5Chain{root, inter, leaf})
		c.config.maxRSAKeySize = ptr(3072)
		cases = append(cases, c)
		c2 := x5From("key/rsa-leaf-over-configured-max", x5Chain{root, inter, leaf})
		c2.config.maxRSAKeySize = ptr(2048)
		cases = append(cases, c2)
		c3 := x5From("key/rsa-at-configured-max", x5Chain{root, inter, leaf})
		c3.config.maxRSAKeySize = ptr(4096)
		cases = append(cases, c3)
		cases = append(cases, x5KeyUnder8200(t, root))
	}
	// An RSA leaf signed by an RSA intermediate, and RSA-PSS signed certificates.
	{
		root := x5Issue(t, x5CA("root rsa"), x5NewKey(t, "rsa2048"), nil)
		inter := x5Issue(t, x5CA("intermediate rsa"), x5NewKey(t, "rsa2048"), root)
		leaf := x5Issue(t, x5Leaf("node-all-rsa"), x5NewKey(t, "rsa2048"), inter)
		cases = append(cases, x5From("key/all-rsa-chain", x5Chain{root, inter, leaf}))
		for _, alg := range []x509.SignatureAlgorithm{x509.SHA256WithRSAPSS, x509.SHA384WithRSAPSS, x509.SHA512WithRSAPSS, x509.SHA384WithRSA, x509.SHA512WithRSA} {
			tmpl := x5Leaf("node-" + alg.String())
			tmpl.SignatureAlgorithm = alg
			pss := x5Issue(t, tmpl, x5NewKey(t, "p256"), inter)
			cases = append(cases, x5From("key/leaf-signed-"+strings.ToLower(alg.String()), x5Chain{root, inter, pss}))
		}
	}
	// ECDSA certificates signed with a hash other than the curve's usual one.
	{
		root := x5Issue(t, x5CA("root"), x5NewKey(t, "p256"), nil)
		for _, alg := range []x509.SignatureAlgorithm{x509.ECDSAWithSHA384, x509.ECDSAWithSHA512} {
			itmpl := x5CA("intermediate " + alg.String())
			itmpl.SignatureAlgorithm = alg
			inter := x5Issue(t, itmpl, x5NewKey(t, "p384"), root)
			ltmpl := x5Leaf("node-" + alg.String())
			ltmpl.SignatureAlgorithm = x509.ECDSAWithSHA256
			leaf := x5Issue(t, ltmpl, x5NewKey(t, "p256"), inter)
			cases = append(cases, x5From("key/ecdsa-signed-"+strings.ToLower(alg.String()), x5Chain{root, inter, leaf}))
		}
	}
	return cases
}

// x5KeyUnder8200 is a P-256 leaf under an 8200-bit RSA intermediate (over SPIRE's default
// max_rsa_key_size from v1.13.4 on).
func x5KeyUnder8200(t testing.TB, root *x5Cert) x5Case {
	inter := x5Issue(t, x5CA("intermediate rsa8200"), x5NewKey(t, "rsa8200"), root)
	leaf := x5Issue(t, x5Leaf("node-under-rsa8200"), x5NewKey(t, "p256"), inter)
	return x5From("key/intermediate-rsa8200", x5Chain{root, inter, leaf})
}

func x5SANCases(t testing.TB) []x5Case {
	var cases []x5Case
	add := func(name string, uris ...string) {
		tmpl := x5Leaf("node-san")
		for _, u := range uris {
			parsed, err := url.Parse(u)
			if err != nil {
				t.Fatalf("%s: %v", u, err)
			}
			tmpl.URIs = append(tmpl.URIs, parsed)
		}
		c := x5From("san/"+name, x5Standard(t, tmpl))
		c.config.template = ptr("/{{ .PluginName }}/{{ .Fingerprint }}")
		cases = append(cases, c)
	}
	add("simple", "x509pop://example.org/datacenter/us-east-1")
	add("value-with-slashes", "x509pop://example.org/key/path/to/value")
	add("several-keys", "x509pop://example.org/datacenter/us-east-1", "x509pop://example.org/environment/production", "x509pop://example.org/key/path/to/value")
	add("percent-encoded-value", "x509pop://example.org/key/a%2Fb%20c")
	add("percent-encoded-key", "x509pop://example.org/k%65y/value")
	add("percent-encoded-utf8", "x509pop://example.org/city/z%C3%BCrich")
	add("percent-encoded-colon", "x509pop://example.org/key/a%3Ab")
	add("query", "x509pop://example.org/key/value?x=1")
	add("fragment", "x509pop://example.org/key/value#frag")
	add("query-and-fragment", "x509pop://example.org/key/value?x=1&y=2#frag")
	add("trailing-slash", "x509pop://example.org/key/value/")
	add("leading-double-slash", "x509pop://example.org//key/value")
	add("empty-host-four-slashes", "x509pop:////key/value")
	add("upper-case-scheme", "X509POP://example.org/key/value")
	add("mixed-case-scheme", "X509Pop://example.org/key/value")
	add("upper-case-host", "x509pop://EXAMPLE.ORG/key/value")
	add("other-trust-domain", "x509pop://other.org/key/value")
	add("trust-domain-prefix", "x509pop://example.org.evil/key/value")
	add("port", "x509pop://example.org:8443/key/value")
	add("userinfo", "x509pop://user@example.org/key/value")
	add("only-key", "x509pop://example.org/key")
	add("only-key-trailing-slash", "x509pop://example.org/key/")
	add("empty-key", "x509pop://example.org//value")
	add("empty-value-double-slash", "x509pop://example.org/key//")
	add("empty-segment-in-value", "x509pop://example.org/key//value")
	add("no-path", "x509pop://example.org")
	add("root-path", "x509pop://example.org/")
	add("duplicate-keys-last-wins", "x509pop://example.org/key/first", "x509pop://example.org/key/second")
	add("duplicate-keys-three", "x509pop://example.org/key/a", "x509pop://example.org/other/x", "x509pop://example.org/key/c")
	add("same-pair-twice", "x509pop://example.org/key/a", "x509pop://example.org/key/a")
	add("spiffe-uri-ignored", "spiffe://example.org/spire-exchange/node")
	add("https-uri-ignored", "https://example.org/key/value")
	add("opaque", "x509pop:example.org/key/value")
	add("dot-segments", "x509pop://example.org/key/../value")
	add("dot-segment-value", "x509pop://example.org/key/./value")
	add("colon-in-value", "x509pop://example.org/key/a:b:c")
	add("semicolon-and-equals", "x509pop://example.org/key/a;b=c")
	add("plus-and-tilde", "x509pop://example.org/key/a+b~c")
	add("encoded-slash-in-key", "x509pop://example.org/a%2Fb/value")
	add("percent-encoded-invalid-utf8", "x509pop://example.org/key/a%FFb")
	add("percent-encoded-nul", "x509pop://example.org/key/a%00b")
	add("many-keys", func() []string {
		var out []string
		for i := 0; i < 40; i++ {
			out = append(out, fmt.Sprintf("x509pop://example.org/k%02d/v%02d", i, i))
		}
		return out
	}()...)
	return cases
}

func x5CommonNameCases(t testing.TB) []x5Case {
	var cases []x5Case
	withName := func(name string, rawSubject []byte) {
		tmpl := x5Leaf("ignored")
		tmpl.RawSubject = rawSubject
		cases = append(cases, x5From("cn/"+name, x5Standard(t, tmpl)))
	}
	cn := func(tag int, value []byte) x5Attr { return x5Attr{oid: x5OIDCommonName, tag: tag, value: value} }
	org := x5Attr{oid: x5OIDOrganization, tag: asn1.TagUTF8String, value: []byte("Acme")}
	withName("utf8string", x5Name(cn(asn1.TagUTF8String, []byte("node-utf8"))))
	withName("utf8string-non-ascii", x5Name(cn(asn1.TagUTF8String, []byte("nöde-ü"))))
	withName("printablestring", x5Name(cn(asn1.TagPrintableString, []byte("node printable"))))
	withName("printablestring-invalid-char", x5Name(cn(asn1.TagPrintableString, []byte("node@host"))))
	withName("printablestring-asterisk", x5Name(cn(asn1.TagPrintableString, []byte("node*"))))
	withName("printablestring-ampersand", x5Name(cn(asn1.TagPrintableString, []byte("a&b"))))
	withName("bmpstring", x5Name(cn(30, x5BMP("node-bmp"))))
	withName("bmpstring-non-ascii", x5Name(cn(30, x5BMP("nöde-€"))))
	withName("bmpstring-odd-length", x5Name(cn(30, []byte{0, 'a', 0})))
	withName("bmpstring-with-bom", x5Name(cn(30, append([]byte{0xfe, 0xff}, x5BMP("bom")...))))
	withName("ia5string", x5Name(cn(asn1.TagIA5String, []byte("node-ia5"))))
	withName("t61string", x5Name(cn(asn1.TagT61String, []byte("node-t61"))))
	withName("numericstring", x5Name(cn(asn1.TagNumericString, []byte("12345"))))
	withName("numericstring-invalid", x5Name(cn(asn1.TagNumericString, []byte("12a"))))
	withName("universalstring", x5Name(cn(28, []byte{0, 0, 0, 'a'})))
	withName("utf8string-invalid", x5Name(cn(asn1.TagUTF8String, []byte{0xff, 0xfe})))
	withName("empty", x5Name(cn(asn1.TagUTF8String, []byte{})))
	withName("none", x5Name(org))
	withName("empty-subject", x5Name())
	withName("several-cns-last-wins", x5Name(cn(asn1.TagUTF8String, []byte("first")), cn(asn1.TagUTF8String, []byte("second"))))
	withName("several-cns-last-empty", x5Name(cn(asn1.TagUTF8String, []byte("first")), cn(asn1.TagUTF8String, []byte{})))
	withName("cn-after-organization", x5Name(org, cn(asn1.TagUTF8String, []byte("node-org"))))
	withName("cn-with-colon-and-slash", x5Name(cn(asn1.TagUTF8String, []byte("a:b/c"))))
	withName("cn-with-spaces", x5Name(cn(asn1.TagUTF8String, []byte("  spaced  node "))))
	withName("cn-with-nul", x5Name(cn(asn1.TagUTF8String, []byte("a\x00b"))))
	withName("cn-long", x5Name(cn(asn1.TagUTF8String, []byte(strings.Repeat("n", 500)))))
	// A multi-valued RDN holding the CN.
	{
		cnOID, _ := asn1.Marshal(x5OIDCommonName)
		orgOID, _ := asn1.Marshal(x5OIDOrganization)
		atv1 := x5Wrap(0x30, append(orgOID, x5Wrap(asn1.TagUTF8String, []byte("Acme"))...))
		atv2 := x5Wrap(0x30, append(cnOID, x5Wrap(asn1.TagUTF8String, []byte("node-multi"))...))
		rdn := x5Wrap(0x31, append(atv1, atv2...))
		withName("multi-valued-rdn", x5Wrap(0x30, rdn))
	}
	return cases
}

func x5SerialCases(t testing.TB) []x5Case {
	var cases []x5Case
	withSerial := func(name string, serial *big.Int) {
		tmpl := x5Leaf("node-serial")
		tmpl.SerialNumber = serial
		cases = append(cases, x5From("serial/"+name, x5Standard(t, tmpl)))
	}
	withSerial("one", big.NewInt(1))
	withSerial("zero", big.NewInt(0))
	withSerial("fifteen", big.NewInt(15))
	withSerial("127", big.NewInt(127))
	withSerial("128-leading-zero-byte", big.NewInt(128))
	withSerial("255", big.NewInt(255))
	withSerial("256", big.NewInt(256))
	withSerial("4095-odd-hex-length", big.NewInt(4095))
	withSerial("20-bytes", new(big.Int).SetBytes([]byte{0x7f, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19}))
	withSerial("20-bytes-high-bit", new(big.Int).SetBytes([]byte{0x80, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 0x1f}))
	// Serial numbers CreateCertificate will not write: negative, too long, non-minimal.
	raw := func(name string, content []byte) {
		ch := x5Standard(t, nil)
		der := x5Resign(t, ch.leaf.der, ch.inter.key, func(elems []asn1.RawValue) []asn1.RawValue {
			elems[1] = x5Elem(x5Wrap(0x02, content))
			return elems
		})
		ch.leaf = x5Raw(der, ch.leaf.key)
		cases = append(cases, x5From("serial/"+name, ch))
	}
	raw("negative", []byte{0xff, 0x01})
	raw("non-minimal-leading-zero", []byte{0x00, 0x01})
	raw("21-bytes", append([]byte{0x01}, make([]byte, 20)...))
	raw("32-bytes", append([]byte{0x42}, make([]byte, 31)...))
	raw("empty", []byte{})
	return cases
}

func x5TemplateCases(t testing.TB) []x5Case {
	var cases []x5Case
	tmplLeaf := x5Leaf("Node-Template")
	for _, u := range []string{"x509pop://example.org/datacenter/us-east-1", "x509pop://example.org/environment/production"} {
		parsed, _ := url.Parse(u)
		tmplLeaf.URIs = append(tmplLeaf.URIs, parsed)
	}
	ch := x5Standard(t, tmplLeaf)
	for i, text := range []string{
		"/{{ .PluginName }}/{{ .Fingerprint }}",
		"/cn/{{ .Subject.CommonName }}",
		"/serialnumber/{{ .SerialNumberHex }}",
		"/{{ .TrustDomain }}/{{ .SerialNumberHex }}",
		"/foo/{{ .URISanSelectors.datacenter }}/{{ .URISanSelectors.environment }}",
		"/{{ .URISanSelectors.missing }}",
		"/{{ .Subject.CommonName | lower }}",
		"/{{ upper .Subject.CommonName }}",
		"/{{ .Subject.CommonName | replace \"-\" \"_\" }}",
		"/{{ trimPrefix \"Node-\" .Subject.CommonName }}",
		"/{{ .Subject.CommonName | trimSuffix \"-Template\" }}",
		"/{{ sha256sum .Fingerprint }}",
		"/{{- .PluginName -}}/x",
		"/x509pop/{{ .Fingerprint }}/{{ .SerialNumberHex }}",
		"/{{ .PluginName }}/{{ .SVIDPathTrimmed }}",
		"{{ .PluginName }}",
		"/{{ .PluginName }}/",
		"/{{ .PluginName }}//x",
		"/a b/{{ .PluginName }}",
		"/{{ .Subject.CommonName }}/../x",
		"/{{ .Nope }}",
		"/{{ .Subject.Nope }}",
		"",
		"/{{ .PluginName",
		"/{{ nosuchfunc .PluginName }}",
		"/{{ .PluginName }}/{{ trim \" x \" }}",
	} {
		c := x5From(fmt.Sprintf("template/%02d", i), ch)
		c.config.template = ptr(text)
		cases = append(cases, c)
	}
	return cases
}

func x5SpiffeModeCases(t testing.TB) []x5Case {
	var cases []x5Case
	serverRoot := x5Issue(t, x5CA("spire server ca"), x5NewKey(t, "p256"), nil)
	withSVID := func(name string, uris []string, config x5Config) {
		tmpl := x5Leaf("spiffe-node")
		for _, u := range uris {
			parsed, _ := url.Parse(u)
			tmpl.URIs = append(tmpl.URIs, parsed)
		}
		leaf := x5Issue(t, tmpl, x5NewKey(t, "p256"), serverRoot)
		if config.mode == nil {
			config.mode = ptr("spiffe")
		}
		cases = append(cases, x5Case{name: "x509pop/spiffe/" + name, config: config, spiffeBundle: []*x5Cert{serverRoot}, certs: [][]byte{leaf.der}, key: leaf.key})
	}
	withSVID("default-prefix", []string{"spiffe://example.org/spire-exchange/node-1"}, x5Config{})
	withSVID("default-prefix-nested", []string{"spiffe://example.org/spire-exchange/rack/7/node"}, x5Config{})
	withSVID("default-prefix-no-match", []string{"spiffe://example.org/other/node-1"}, x5Config{})
	withSVID("no-spiffe-uri", []string{"x509pop://example.org/key/value"}, x5Config{})
	withSVID("no-uri", nil, x5Config{})
	withSVID("custom-prefix", []string{"spiffe://example.org/nodes/node-2"}, x5Config{svidPrefix: ptr("/nodes/")})
	withSVID("custom-prefix-no-slash", []string{"spiffe://example.org/nodes/node-3"}, x5Config{svidPrefix: ptr("/nodes")})
	withSVID("custom-prefix-root", []string{"spiffe://example.org/node-4"}, x5Config{svidPrefix: ptr("/")})
	withSVID("empty-prefix", []string{"spiffe://example.org/node-5"}, x5Config{svidPrefix: ptr("")})
	withSVID("prefix-is-whole-path", []string{"spiffe://example.org/nodes/"}, x5Config{svidPrefix: ptr("/nodes/")})
	withSVID("first-spiffe-uri-counts", []string{"spiffe://example.org/other/x", "spiffe://example.org/spire-exchange/node-6"}, x5Config{})
	withSVID("other-trust-domain-svid", []string{"spiffe://other.org/spire-exchange/node-7"}, x5Config{})
	withSVID("escaped-path", []string{"spiffe://example.org/spire-exchange/a%20b"}, x5Config{template: ptr("/x/{{ .SVIDPathTrimmed }}")})
	withSVID("template-with-svid-path", []string{"spiffe://example.org/spire-exchange/node-8"}, x5Config{template: ptr("/svid/{{ .SVIDPathTrimmed }}/{{ .Subject.CommonName }}")})
	withSVID("with-san-selectors", []string{"spiffe://example.org/spire-exchange/node-9", "x509pop://example.org/pool/blue"}, x5Config{})
	withSVID("upper-case-spiffe-scheme", []string{"SPIFFE://example.org/spire-exchange/node-10"}, x5Config{})
	withSVID("external-pki-ignores-svid", []string{"spiffe://example.org/spire-exchange/node-11"}, x5Config{mode: ptr("external_pki"), bundles: [][]*x5Cert{{serverRoot}}})
	// A leaf the server's bundle does not vouch for.
	{
		other := x5Standard(t, nil)
		cases = append(cases, x5Case{name: "x509pop/spiffe/untrusted-by-server-bundle", config: x5Config{mode: ptr("spiffe")}, spiffeBundle: []*x5Cert{serverRoot}, certs: [][]byte{other.leaf.der, other.inter.der}, key: other.leaf.key})
	}
	return cases
}

func x5ConfigCases(t testing.TB) []x5Case {
	var cases []x5Case
	ch := x5Standard(t, nil)
	add := func(name string, config x5Config) {
		cases = append(cases, x5Case{name: "x509pop/config/" + name, config: config, certs: [][]byte{ch.leaf.der, ch.inter.der}, key: ch.leaf.key})
	}
	root := [][]*x5Cert{{ch.root}}
	add("both-bundle-keys", x5Config{bundles: root, both: true})
	add("no-bundle", x5Config{})
	add("unknown-mode", x5Config{bundles: root, mode: ptr("x509")})
	add("mode-upper-case", x5Config{bundles: root, mode: ptr("SPIFFE")})
	add("mode-external-pki-explicit", x5Config{bundles: root, mode: ptr("external_pki")})
	add("spiffe-mode-with-bundle-paths", x5Config{bundles: root, mode: ptr("spiffe")})
	add("spiffe-mode-with-bundle-path", x5Config{bundles: root, mode: ptr("spiffe"), singular: true})
	add("template-does-not-parse", x5Config{bundles: root, template: ptr("/{{ .PluginName")})
	add("template-unknown-function", x5Config{bundles: root, template: ptr("/{{ nosuch .PluginName }}")})
	add("template-unclosed-if", x5Config{bundles: root, template: ptr("/{{ if .PluginName }}x")})
	add("missing-bundle-file", x5Config{missingBundle: true})
	add("missing-second-bundle-file", x5Config{bundles: root, missingBundle: true})
	add("bundle-file-without-certificates", x5Config{rawBundles: [][]byte{[]byte("not a PEM file\n")}})
	add("bundle-file-empty", x5Config{rawBundles: [][]byte{{}}})
	add("bundle-file-bad-certificate", x5Config{rawBundles: [][]byte{[]byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")}})
	add("max-intermediates-zero", x5Config{bundles: root, maxIntermediates: ptr(0)})
	add("max-intermediates-negative", x5Config{bundles: root, maxIntermediates: ptr(-1)})
	add("max-intermediates-one", x5Config{bundles: root, maxIntermediates: ptr(1)})
	add("max-rsa-key-size-zero", x5Config{bundles: root, maxRSAKeySize: ptr(0)})
	add("max-rsa-key-size-negative", x5Config{bundles: root, maxRSAKeySize: ptr(-5)})
	add("empty-template", x5Config{bundles: root, template: ptr("")})
	add("empty-spiffe-prefix-external-pki", x5Config{bundles: root, svidPrefix: ptr("")})
	return cases
}

func x5PayloadCases(t testing.TB) []x5Case {
	var cases []x5Case
	ch := x5Standard(t, nil)
	add := func(name string, payload string) {
		cases = append(cases, x5Case{name: "x509pop/payload/" + name, config: x5Config{bundles: [][]*x5Cert{{ch.root}}}, payload: json.RawMessage(payload), key: ch.leaf.key})
	}
	b64 := func(der []byte) string { return string(x5Must(json.Marshal(der))) }
	add("no-certificates-member", `{}`)
	add("empty-certificates", `{"certificates":[]}`)
	add("null-certificates", `{"certificates":null}`)
	add("string-payload", `"payload"`)
	add("array-payload", `[1,2]`)
	add("certificates-not-array", `{"certificates":"abc"}`)
	add("leaf-not-base64", `{"certificates":["!!!"]}`)
	add("leaf-not-der", `{"certificates":["AAAA"]}`)
	add("intermediate-not-der", `{"certificates":[`+b64(ch.leaf.der)+`,"AAAA"]}`)
	add("second-intermediate-not-der", `{"certificates":[`+b64(ch.leaf.der)+`,`+b64(ch.inter.der)+`,"AAAA"]}`)
	add("leaf-null", `{"certificates":[null]}`)
	add("unknown-member", `{"certificates":[`+b64(ch.leaf.der)+`,`+b64(ch.inter.der)+`],"extra":1}`)
	add("upper-case-member", `{"Certificates":[`+b64(ch.leaf.der)+`,`+b64(ch.inter.der)+`]}`)
	add("base64-unpadded", `{"certificates":["`+strings.TrimRight(strings.Trim(b64(ch.leaf.der), `"`), "=")+`",`+b64(ch.inter.der)+`]}`)
	add("base64-url-alphabet", `{"certificates":["`+strings.NewReplacer("+", "-", "/", "_").Replace(strings.Trim(b64(ch.leaf.der), `"`))+`",`+b64(ch.inter.der)+`]}`)
	add("leaf-with-trailing-byte", `{"certificates":[`+b64(append(append([]byte{}, ch.leaf.der...), 0))+`,`+b64(ch.inter.der)+`]}`)
	add("duplicate-certificates-member", `{"certificates":["AAAA"],"certificates":[`+b64(ch.leaf.der)+`,`+b64(ch.inter.der)+`]}`)
	return cases
}

func x5TranscriptCases(t testing.TB) []x5Case {
	var cases []x5Case
	ecdsaChain := x5Standard(t, nil)
	rsaLeafTmpl := x5Leaf("node-rsa-transcript")
	rsaChain := func() x5Chain {
		root := x5Issue(t, x5CA("root"), x5NewKey(t, "p256"), nil)
		inter := x5Issue(t, x5CA("intermediate"), x5NewKey(t, "p256"), root)
		leaf := x5Issue(t, rsaLeafTmpl, x5NewKey(t, "rsa2048"), inter)
		return x5Chain{root, inter, leaf}
	}()
	add := func(name string, ch x5Chain, answer func(testing.TB, *x509pop.Challenge, crypto.Signer) []byte) {
		c := x5From("transcript/"+name, ch)
		c.answer = answer
		cases = append(cases, c)
	}
	add("ecdsa-other-key", ecdsaChain, x5SignWith(x5NewKey(t, "p256")))
	add("ecdsa-p384-key-for-p256-leaf", ecdsaChain, x5SignWith(x5NewKey(t, "p384")))
	add("rsa-other-key", rsaChain, x5SignWith(x5NewKey(t, "rsa3072")))
	add("rsa-leaf-ecdsa-response", rsaChain, x5SignWith(x5NewKey(t, "p256")))
	add("ecdsa-leaf-rsa-response", ecdsaChain, x5SignWith(x5NewKey(t, "rsa2048")))
	add("not-json", ecdsaChain, x5RawAnswer(`not json`))
	add("empty-object", ecdsaChain, x5RawAnswer(`{}`))
	add("both-null", ecdsaChain, x5RawAnswer(`{"rsa_signature":null,"ecdsa_signature":null}`))
	ecdsaEdit := func(edit func(r *x509pop.ECDSASignatureResponse)) func(testing.TB, *x509pop.Challenge, crypto.Signer) []byte {
		return func(t testing.TB, ch *x509pop.Challenge, key crypto.Signer) []byte {
			resp := x5Must(x509pop.CalculateResponse(key, ch))
			edit(resp.ECDSASignature)
			return x5Must(json.Marshal(resp))
		}
	}
	add("response-nonce-31-bytes", ecdsaChain, ecdsaEdit(func(r *x509pop.ECDSASignatureResponse) { r.Nonce = r.Nonce[:31] }))
	add("response-nonce-33-bytes", ecdsaChain, ecdsaEdit(func(r *x509pop.ECDSASignatureResponse) { r.Nonce = append(r.Nonce, 0) }))
	add("response-nonce-empty", ecdsaChain, ecdsaEdit(func(r *x509pop.ECDSASignatureResponse) { r.Nonce = nil }))
	add("response-nonce-changed", ecdsaChain, ecdsaEdit(func(r *x509pop.ECDSASignatureResponse) { r.Nonce = x5Nonce(32) }))
	add("r-and-s-swapped", ecdsaChain, ecdsaEdit(func(r *x509pop.ECDSASignatureResponse) { r.R, r.S = r.S, r.R }))
	add("r-with-leading-zeros", ecdsaChain, ecdsaEdit(func(r *x509pop.ECDSASignatureResponse) { r.R = append([]byte{0, 0, 0}, r.R...) }))
	add("s-empty", ecdsaChain, ecdsaEdit(func(r *x509pop.ECDSASignatureResponse) { r.S = nil }))
	add("r-too-long", ecdsaChain, ecdsaEdit(func(r *x509pop.ECDSASignatureResponse) { r.R = append(x5Nonce(40), r.R...) }))
	add("s-plus-order", ecdsaChain, ecdsaEdit(func(r *x509pop.ECDSASignatureResponse) {
		order, _ := new(big.Int).SetString("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551", 16)
		r.S = new(big.Int).Add(new(big.Int).SetBytes(r.S), order).Bytes()
	}))
	add("s-high", ecdsaChain, ecdsaEdit(func(r *x509pop.ECDSASignatureResponse) {
		order, _ := new(big.Int).SetString("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551", 16)
		r.S = new(big.Int).Sub(order, new(big.Int).SetBytes(r.S)).Bytes()
	}))
	add("extra-members", ecdsaChain, func(t testing.TB, ch *x509pop.Challenge, key crypto.Signer) []byte {
		resp := x5Must(x509pop.CalculateResponse(key, ch))
		return x5Must(json.Marshal(map[string]any{"ecdsa_signature": resp.ECDSASignature, "rsa_signature": nil, "note": "x"}))
	})
	add("both-branches", ecdsaChain, func(t testing.TB, ch *x509pop.Challenge, key crypto.Signer) []byte {
		resp := x5Must(x509pop.CalculateResponse(key, ch))
		return x5Must(json.Marshal(map[string]any{"ecdsa_signature": resp.ECDSASignature, "rsa_signature": map[string]any{"nonce": x5Nonce(32), "signature": x5Nonce(256)}}))
	})
	rsaEdit := func(edit func(r *x509pop.RSASignatureResponse)) func(testing.TB, *x509pop.Challenge, crypto.Signer) []byte {
		return func(t testing.TB, ch *x509pop.Challenge, key crypto.Signer) []byte {
			resp := x5Must(x509pop.CalculateResponse(key, ch))
			edit(resp.RSASignature)
			return x5Must(json.Marshal(resp))
		}
	}
	add("rsa-valid", rsaChain, nil)
	add("rsa-signature-truncated", rsaChain, rsaEdit(func(r *x509pop.RSASignatureResponse) { r.Signature = r.Signature[:255] }))
	add("rsa-signature-flipped", rsaChain, rsaEdit(func(r *x509pop.RSASignatureResponse) { r.Signature[10] ^= 1 }))
	add("rsa-nonce-short", rsaChain, rsaEdit(func(r *x509pop.RSASignatureResponse) { r.Nonce = r.Nonce[:16] }))
	add("rsa-pss-salt-32", rsaChain, func(t testing.TB, ch *x509pop.Challenge, key crypto.Signer) []byte {
		return x5RSAResponse(t, ch, key, 32)
	})
	add("rsa-pss-salt-0", rsaChain, func(t testing.TB, ch *x509pop.Challenge, key crypto.Signer) []byte {
		return x5RSAResponse(t, ch, key, 0)
	})
	add("rsa-pkcs1v15-instead-of-pss", rsaChain, func(t testing.TB, ch *x509pop.Challenge, key crypto.Signer) []byte {
		return x5RSAResponse(t, ch, key, -1)
	})
	return cases
}

func x5SignatureCases(t testing.TB) []x5Case {
	var cases []x5Case
	// SHA-1 and MD5 signed intermediates (Go refuses them in chains).
	root := x5Issue(t, x5CA("root rsa"), x5NewKey(t, "rsa2048"), nil)
	for _, alg := range []x509.SignatureAlgorithm{x509.SHA1WithRSA, x509.MD5WithRSA} {
		made := x5Issue(t, x5CA("intermediate "+alg.String()), x5NewKey(t, "p256"), root)
		der := x5ResignWithAlg(t, made.der, root.key, alg)
		inter := x5Raw(der, made.key)
		leaf := x5Issue(t, x5Leaf("node-"+alg.String()), x5NewKey(t, "p256"), inter)
		cases = append(cases, x5From("signature/intermediate-"+strings.ToLower(alg.String()), x5Chain{root, inter, leaf}))
	}
	// A SHA-1 self-signed root: the root's own signature is never checked.
	{
		key := x5NewKey(t, "rsa2048")
		made := x5Issue(t, x5CA("sha1 root"), key, nil)
		der := x5ResignWithAlg(t, made.der, key, x509.SHA1WithRSA)
		sha1Root := x5Raw(der, key)
		inter := x5Issue(t, x5CA("intermediate"), x5NewKey(t, "p256"), sha1Root)
		leaf := x5Issue(t, x5Leaf("node-sha1-root"), x5NewKey(t, "p256"), inter)
		cases = append(cases, x5From("signature/sha1-self-signed-root", x5Chain{sha1Root, inter, leaf}))
	}
	// ECDSA with SHA-1 on the leaf.
	{
		ch := x5Standard(t, nil)
		der := x5ResignWithAlg(t, ch.leaf.der, ch.inter.key, x509.ECDSAWithSHA1)
		ch.leaf = x5Raw(der, ch.leaf.key)
		cases = append(cases, x5From("signature/leaf-ecdsa-sha1", ch))
	}
	// Inner and outer signature algorithms that differ.
	{
		ch := x5Standard(t, nil)
		var cert x5CertificateDER
		_, _ = asn1.Unmarshal(ch.leaf.der, &cert)
		sha384, _ := asn1.Marshal(pkix.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 3}})
		body := append(append([]byte{}, cert.TBS.FullBytes...), sha384...)
		body = append(body, x5Must(asn1.Marshal(cert.Signature))...)
		ch.leaf = x5Raw(x5Wrap(0x30, body), ch.leaf.key)
		cases = append(cases, x5From("signature/outer-algorithm-differs", ch))
	}
	return cases
}

func x5NameConstraintCases(t testing.TB) []x5Case {
	var cases []x5Case
	withConstraints := func(name string, where string, edit func(*x509.Certificate), leafEdit func(*x509.Certificate)) {
		rootTmpl, interTmpl := x5CA("root nc"), x5CA("intermediate nc")
		if where == "root" {
			edit(rootTmpl)
		} else {
			edit(interTmpl)
		}
		root := x5Issue(t, rootTmpl, x5NewKey(t, "p256"), nil)
		inter := x5Issue(t, interTmpl, x5NewKey(t, "p256"), root)
		leafTmpl := x5Leaf("node-nc")
		leafEdit(leafTmpl)
		leaf := x5Issue(t, leafTmpl, x5NewKey(t, "p256"), inter)
		cases = append(cases, x5From("name-constraints/"+where+"-"+name, x5Chain{root, inter, leaf}))
	}
	uri := func(s string) func(*x509.Certificate) {
		return func(c *x509.Certificate) { u, _ := url.Parse(s); c.URIs = append(c.URIs, u) }
	}
	dns := func(s string) func(*x509.Certificate) {
		return func(c *x509.Certificate) { c.DNSNames = append(c.DNSNames, s) }
	}
	for _, where := range []string{"root", "intermediate"} {
		withConstraints("permitted-uri-domain-match", where, func(c *x509.Certificate) { c.PermittedURIDomains = []string{"example.org"} }, uri("x509pop://example.org/k/v"))
		withConstraints("permitted-uri-domain-mismatch", where, func(c *x509.Certificate) { c.PermittedURIDomains = []string{"other.org"} }, uri("x509pop://example.org/k/v"))
		withConstraints("excluded-uri-domain", where, func(c *x509.Certificate) { c.ExcludedURIDomains = []string{"example.org"} }, uri("x509pop://example.org/k/v"))
		withConstraints("permitted-dns-match", where, func(c *x509.Certificate) { c.PermittedDNSDomains = []string{"example.org"} }, dns("node.example.org"))
		withConstraints("permitted-dns-mismatch", where, func(c *x509.Certificate) { c.PermittedDNSDomains = []string{"example.com"} }, dns("node.example.org"))
		withConstraints("excluded-dns", where, func(c *x509.Certificate) { c.ExcludedDNSDomains = []string{"example.org"} }, dns("node.example.org"))
		withConstraints("permitted-dns-leaf-without-sans", where, func(c *x509.Certificate) { c.PermittedDNSDomains = []string{"example.com"} }, func(*x509.Certificate) {})
		withConstraints("permitted-ip-match", where, func(c *x509.Certificate) {
			_, n, _ := net.ParseCIDR("10.0.0.0/8")
			c.PermittedIPRanges = []*net.IPNet{n}
		}, func(c *x509.Certificate) { c.IPAddresses = []net.IP{net.ParseIP("10.1.2.3")} })
		withConstraints("permitted-ip-mismatch", where, func(c *x509.Certificate) {
			_, n, _ := net.ParseCIDR("10.0.0.0/8")
			c.PermittedIPRanges = []*net.IPNet{n}
		}, func(c *x509.Certificate) { c.IPAddresses = []net.IP{net.ParseIP("192.168.0.1")} })
		withConstraints("excluded-email", where, func(c *x509.Certificate) { c.ExcludedEmailAddresses = []string{"example.org"} }, func(c *x509.Certificate) { c.EmailAddresses = []string{"ops@example.org"} })
		withConstraints("permitted-uri-leaf-uri-without-host", where, func(c *x509.Certificate) { c.PermittedURIDomains = []string{"example.org"} }, uri("x509pop:////k/v"))
		withConstraints("critical-permitted-dns-match", where, func(c *x509.Certificate) {
			c.PermittedDNSDomainsCritical = true
			c.PermittedDNSDomains = []string{"example.org"}
		}, dns("a.example.org"))
	}
	return cases
}

func x5ParseCases(t testing.TB) []x5Case {
	var cases []x5Case
	edit := func(name string, change func(ch x5Chain, elems []asn1.RawValue) []asn1.RawValue) {
		ch := x5Standard(t, nil)
		der := x5Resign(t, ch.leaf.der, ch.inter.key, func(elems []asn1.RawValue) []asn1.RawValue { return change(ch, elems) })
		ch.leaf = x5Raw(der, ch.leaf.key)
		cases = append(cases, x5From("parse/"+name, ch))
	}
	edit("duplicate-extension", func(ch x5Chain, elems []asn1.RawValue) []asn1.RawValue {
		exts := x5Extensions(ch.leaf.cert)
		return x5WithExtensions(elems, append(exts, exts[0])...)
	})
	edit("empty-extensions", func(ch x5Chain, elems []asn1.RawValue) []asn1.RawValue {
		return x5WithExtensions(elems)
	})
	edit("v2-with-extensions", func(ch x5Chain, elems []asn1.RawValue) []asn1.RawValue {
		elems[0] = x5Elem(x5Wrap(0xa0, []byte{0x02, 0x01, 0x01}))
		return elems
	})
	edit("version-4", func(ch x5Chain, elems []asn1.RawValue) []asn1.RawValue {
		elems[0] = x5Elem(x5Wrap(0xa0, []byte{0x02, 0x01, 0x03}))
		return elems
	})
	edit("trailing-element-in-tbs", func(ch x5Chain, elems []asn1.RawValue) []asn1.RawValue {
		return append(elems, x5Elem([]byte{0x05, 0x00}))
	})
	edit("key-usage-empty-bit-string", func(ch x5Chain, elems []asn1.RawValue) []asn1.RawValue {
		var exts [][]byte
		for _, e := range ch.leaf.cert.Extensions {
			if e.Id.Equal(asn1.ObjectIdentifier{2, 5, 29, 15}) {
				exts = append(exts, x5Ext(e.Id, e.Critical, []byte{0x03, 0x01, 0x00}))
				continue
			}
			exts = append(exts, x5Ext(e.Id, e.Critical, e.Value))
		}
		return x5WithExtensions(elems, exts...)
	})
	edit("san-uri-not-ascii", func(ch x5Chain, elems []asn1.RawValue) []asn1.RawValue {
		san := x5Wrap(0x30, x5Wrap(0x86, []byte("x509pop://example.org/city/zürich")))
		return x5WithExtensions(elems, append(x5Extensions(ch.leaf.cert), x5Ext(asn1.ObjectIdentifier{2, 5, 29, 17}, false, san))...)
	})
	edit("san-uri-bad-escape", func(ch x5Chain, elems []asn1.RawValue) []asn1.RawValue {
		san := x5Wrap(0x30, x5Wrap(0x86, []byte("x509pop://example.org/key/%zz")))
		return x5WithExtensions(elems, append(x5Extensions(ch.leaf.cert), x5Ext(asn1.ObjectIdentifier{2, 5, 29, 17}, false, san))...)
	})
	edit("san-uri-space-in-host", func(ch x5Chain, elems []asn1.RawValue) []asn1.RawValue {
		san := x5Wrap(0x30, x5Wrap(0x86, []byte("x509pop://exa mple.org/key/value")))
		return x5WithExtensions(elems, append(x5Extensions(ch.leaf.cert), x5Ext(asn1.ObjectIdentifier{2, 5, 29, 17}, false, san))...)
	})
	edit("san-uri-space-in-path", func(ch x5Chain, elems []asn1.RawValue) []asn1.RawValue {
		san := x5Wrap(0x30, x5Wrap(0x86, []byte("x509pop://example.org/key/a b")))
		return x5WithExtensions(elems, append(x5Extensions(ch.leaf.cert), x5Ext(asn1.ObjectIdentifier{2, 5, 29, 17}, false, san))...)
	})
	edit("san-uri-invalid-host-label", func(ch x5Chain, elems []asn1.RawValue) []asn1.RawValue {
		san := x5Wrap(0x30, x5Wrap(0x86, []byte("x509pop://example..org/key/value")))
		return x5WithExtensions(elems, append(x5Extensions(ch.leaf.cert), x5Ext(asn1.ObjectIdentifier{2, 5, 29, 17}, false, san))...)
	})
	edit("san-empty", func(ch x5Chain, elems []asn1.RawValue) []asn1.RawValue {
		return x5WithExtensions(elems, append(x5Extensions(ch.leaf.cert), x5Ext(asn1.ObjectIdentifier{2, 5, 29, 17}, false, x5Wrap(0x30, nil)))...)
	})
	edit("san-dns-not-ascii", func(ch x5Chain, elems []asn1.RawValue) []asn1.RawValue {
		san := x5Wrap(0x30, x5Wrap(0x82, []byte("nöde.example.org")))
		return x5WithExtensions(elems, append(x5Extensions(ch.leaf.cert), x5Ext(asn1.ObjectIdentifier{2, 5, 29, 17}, false, san))...)
	})
	edit("san-ip-wrong-length", func(ch x5Chain, elems []asn1.RawValue) []asn1.RawValue {
		san := x5Wrap(0x30, x5Wrap(0x87, []byte{10, 0, 0}))
		return x5WithExtensions(elems, append(x5Extensions(ch.leaf.cert), x5Ext(asn1.ObjectIdentifier{2, 5, 29, 17}, false, san))...)
	})
	edit("san-uri-empty", func(ch x5Chain, elems []asn1.RawValue) []asn1.RawValue {
		san := x5Wrap(0x30, x5Wrap(0x86, []byte{}))
		return x5WithExtensions(elems, append(x5Extensions(ch.leaf.cert), x5Ext(asn1.ObjectIdentifier{2, 5, 29, 17}, false, san))...)
	})
	edit("basic-constraints-negative-pathlen", func(ch x5Chain, elems []asn1.RawValue) []asn1.RawValue {
		bc := x5Wrap(0x30, append([]byte{0x01, 0x01, 0xff}, 0x02, 0x01, 0xff))
		return x5WithExtensions(elems, append(x5Extensions(ch.leaf.cert), x5Ext(asn1.ObjectIdentifier{2, 5, 29, 19}, true, bc))...)
	})
	edit("validity-utctime-without-seconds", func(ch x5Chain, elems []asn1.RawValue) []asn1.RawValue {
		notBefore := x5Wrap(0x17, []byte(time.Now().Add(-time.Hour).UTC().Format("0601021504")+"Z"))
		notAfter := x5Wrap(0x17, []byte(time.Now().Add(time.Hour*24).UTC().Format("060102150405")+"Z"))
		elems[4] = x5Elem(x5Wrap(0x30, append(notBefore, notAfter...)))
		return elems
	})
	edit("validity-generalized-time-before-2050", func(ch x5Chain, elems []asn1.RawValue) []asn1.RawValue {
		notBefore := x5Wrap(0x18, []byte(time.Now().Add(-time.Hour).UTC().Format("20060102150405")+"Z"))
		notAfter := x5Wrap(0x17, []byte(time.Now().Add(time.Hour*24).UTC().Format("060102150405")+"Z"))
		elems[4] = x5Elem(x5Wrap(0x30, append(notBefore, notAfter...)))
		return elems
	})
	edit("validity-with-fraction", func(ch x5Chain, elems []asn1.RawValue) []asn1.RawValue {
		notBefore := x5Wrap(0x18, []byte(time.Now().Add(-time.Hour).UTC().Format("20060102150405")+".5Z"))
		notAfter := x5Wrap(0x17, []byte(time.Now().Add(time.Hour*24).UTC().Format("060102150405")+"Z"))
		elems[4] = x5Elem(x5Wrap(0x30, append(notBefore, notAfter...)))
		return elems
	})
	edit("unique-ids", func(ch x5Chain, elems []asn1.RawValue) []asn1.RawValue {
		var out []asn1.RawValue
		for _, e := range elems {
			if e.Class == asn1.ClassContextSpecific && e.Tag == 3 {
				out = append(out, x5Elem([]byte{0x81, 0x02, 0x00, 0xaa}), x5Elem([]byte{0x82, 0x02, 0x00, 0xbb}))
			}
			out = append(out, e)
		}
		return out
	})
	return cases
}

func x5PolicyCases(t testing.TB) []x5Case {
	var cases []x5Case
	// PolicyConstraints ::= SEQUENCE { requireExplicitPolicy [0] INTEGER OPTIONAL,
	// inhibitPolicyMapping [1] INTEGER OPTIONAL }
	constraintsExt := func(require, inhibit int) pkix.Extension {
		var body []byte
		if require >= 0 {
			body = append(body, 0x80, 0x01, byte(require))
		}
		if inhibit >= 0 {
			body = append(body, 0x81, 0x01, byte(inhibit))
		}
		return pkix.Extension{Id: asn1.ObjectIdentifier{2, 5, 29, 36}, Critical: true, Value: x5Wrap(0x30, body)}
	}
	mappingsExt := func(pairs ...[2]asn1.ObjectIdentifier) pkix.Extension {
		var body []byte
		for _, p := range pairs {
			a, _ := asn1.Marshal(p[0])
			b, _ := asn1.Marshal(p[1])
			body = append(body, x5Wrap(0x30, append(a, b...))...)
		}
		return pkix.Extension{Id: asn1.ObjectIdentifier{2, 5, 29, 33}, Critical: true, Value: x5Wrap(0x30, body)}
	}
	policyA := asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 10, 1}
	policyB := asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 10, 2}
	anyPolicy := asn1.ObjectIdentifier{2, 5, 29, 32, 0}
	oid := func(o asn1.ObjectIdentifier) x509.OID { v, _ := x509.OIDFromInts(toU64(o)); return v }
	add := func(name string, inter func(*x509.Certificate), leaf func(*x509.Certificate)) {
		root := x5Issue(t, x5CA("root policy"), x5NewKey(t, "p256"), nil)
		it := x5CA("intermediate policy")
		inter(it)
		i := x5Issue(t, it, x5NewKey(t, "p256"), root)
		lt := x5Leaf("node-policy")
		leaf(lt)
		l := x5Issue(t, lt, x5NewKey(t, "p256"), i)
		cases = append(cases, x5From("policy/"+name, x5Chain{root, i, l}))
	}
	none := func(*x509.Certificate) {}
	policies := func(ps ...asn1.ObjectIdentifier) func(*x509.Certificate) {
		return func(c *x509.Certificate) {
			for _, p := range ps {
				c.Policies = append(c.Policies, oid(p))
			}
		}
	}
	with := func(f func(*x509.Certificate), exts ...pkix.Extension) func(*x509.Certificate) {
		return func(c *x509.Certificate) { f(c); c.ExtraExtensions = append(c.ExtraExtensions, exts...) }
	}
	add("require-explicit-0-leaf-without-policies", with(policies(policyA), constraintsExt(0, -1)), none)
	add("require-explicit-0-leaf-with-same-policy", with(policies(policyA), constraintsExt(0, -1)), policies(policyA))
	add("require-explicit-0-leaf-with-other-policy", with(policies(policyA), constraintsExt(0, -1)), policies(policyB))
	add("require-explicit-0-intermediate-without-policies", with(none, constraintsExt(0, -1)), policies(policyA))
	add("require-explicit-1", with(policies(policyA), constraintsExt(1, -1)), none)
	add("require-explicit-0-any-policy", with(policies(anyPolicy), constraintsExt(0, -1)), policies(policyB))
	add("mapping-a-to-b", with(policies(policyA), constraintsExt(0, -1), mappingsExt([2]asn1.ObjectIdentifier{policyA, policyB})), policies(policyB))
	add("mapping-to-any-policy", with(policies(policyA), mappingsExt([2]asn1.ObjectIdentifier{policyA, anyPolicy})), policies(policyA))
	add("inhibit-mapping-0", with(policies(policyA), constraintsExt(0, 0), mappingsExt([2]asn1.ObjectIdentifier{policyA, policyB})), policies(policyB))
	add("plain-policies", policies(policyA), policies(policyB))
	return cases
}

func toU64(o asn1.ObjectIdentifier) []uint64 {
	out := make([]uint64, len(o))
	for i, v := range o {
		out[i] = uint64(v)
	}
	return out
}
