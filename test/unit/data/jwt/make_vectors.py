#!/usr/bin/env python3
"""Writes the fixed JOSE vectors test/unit/test_jwt.c reads: jwks.json (keys
we keep and keys we must skip) and tokens.txt ("name token" per line, each
signed by the key its name says). Run once; the output is committed, so the
unit test never depends on the cryptography module.

    python3 test/unit/data/jwt/make_vectors.py test/unit/data/jwt
"""
import base64
import json
import os
import sys

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives import serialization


def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def ib(n, length=None):
    return n.to_bytes(length or (n.bit_length() + 7) // 8, "big")


def rsa_jwk(kid, key, **extra):
    n = key.public_key().public_numbers()
    return dict({"kty": "RSA", "kid": kid, "n": b64(ib(n.n)), "e": b64(ib(n.e))}, **extra)


def ec_jwk(kid, key, crv, size):
    n = key.public_key().public_numbers()
    return {"kty": "EC", "kid": kid, "crv": crv, "x": b64(ib(n.x, size)), "y": b64(ib(n.y, size))}


def main(out):
    rsa1 = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    rsa_small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    p256 = ec.generate_private_key(ec.SECP256R1())
    p384 = ec.generate_private_key(ec.SECP384R1())
    ed = ed25519.Ed25519PrivateKey.generate()
    bad_point = ec_jwk("offcurve", p256, "P-256", 32)
    bad_point["y"] = b64(ib((p256.public_key().public_numbers().y + 1) % (2 ** 256), 32))
    keys = [
        rsa_jwk("rsa1", rsa1, use="sig"),
        ec_jwk("ec1", p256, "P-256", 32),
        ec_jwk("ec384", p384, "P-384", 48),
        {"kty": "OKP", "kid": "ed1", "crv": "Ed25519",
         "x": b64(ed.public_key().public_bytes(serialization.Encoding.Raw,
                                               serialization.PublicFormat.Raw))},
        rsa_jwk("rsa1-ps", rsa1, alg="PS256"),   # the same key, only for PS256
        # skipped, each for its own reason
        {"kty": "oct", "kid": "hmac", "k": b64(b"secret")},
        rsa_jwk("small", rsa_small),
        rsa_jwk("enc", rsa1, use="enc"),
        rsa_jwk("noverify", rsa1, key_ops=["encrypt"]),
        bad_point,
        {"kty": "EC", "kid": "short", "crv": "P-256", "x": b64(b"\x01" * 31), "y": b64(b"\x01" * 32)},
        {"kty": "EC", "kid": "k256", "crv": "secp256k1", "x": b64(b"\x01" * 32),
         "y": b64(b"\x01" * 32)},
        {"kty": "RSA", "kid": "noe", "n": rsa_jwk("x", rsa1)["n"]},
        rsa_jwk("hs", rsa1, alg="HS256"),
        {"kty": "XYZ", "kid": "what"},
    ]
    with open(os.path.join(out, "jwks.json"), "w") as f:
        json.dump({"keys": keys}, f, indent=1)
        f.write("\n")

    claims = b64(json.dumps({"iss": "https://idp.example", "aud": "tg", "email": "a@example.com",
                             "exp": 4102444800}).encode())

    def tok(alg, kid, sign):
        si = b64(json.dumps({"alg": alg, "kid": kid, "typ": "JWT"}).encode()) + "." + claims
        return si + "." + b64(sign(si.encode()))

    def es(key, h, size):
        def sign(data):
            r, s = decode_dss_signature(key.sign(data, ec.ECDSA(h)))
            return ib(r, size) + ib(s, size)
        return sign

    pss = lambda h, n: (lambda d: rsa1.sign(d, padding.PSS(padding.MGF1(h), n), h))  # noqa: E731
    lines = [
        ("rs256", tok("RS256", "rsa1", lambda d: rsa1.sign(d, padding.PKCS1v15(), hashes.SHA256()))),
        ("rs384", tok("RS384", "rsa1", lambda d: rsa1.sign(d, padding.PKCS1v15(), hashes.SHA384()))),
        ("rs512", tok("RS512", "rsa1", lambda d: rsa1.sign(d, padding.PKCS1v15(), hashes.SHA512()))),
        ("ps256", tok("PS256", "rsa1-ps", pss(hashes.SHA256(), 32))),
        ("ps384", tok("PS384", "rsa1", pss(hashes.SHA384(), 48))),
        ("ps512", tok("PS512", "rsa1", pss(hashes.SHA512(), 64))),
        ("ps256-salt0", tok("PS256", "rsa1", pss(hashes.SHA256(), 0))),  # RFC 7518: salt = hash
        ("es256", tok("ES256", "ec1", es(p256, hashes.SHA256(), 32))),
        ("es384", tok("ES384", "ec384", es(p384, hashes.SHA384(), 48))),
        ("eddsa", tok("EdDSA", "ed1", ed.sign)),
    ]
    with open(os.path.join(out, "tokens.txt"), "w") as f:
        for name, t in lines:
            f.write("%s %s\n" % (name, t))


if __name__ == "__main__":
    main(sys.argv[1])
