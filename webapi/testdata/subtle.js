// crypto.subtle against published vectors: FIPS 180-4 (via its examples),
// RFC 4231 (HMAC-SHA-2), RFC 7515 appendix A (JWS HS256, RS256, ES256),
// RFC 8037 appendix A (Ed25519).
const abc = utf8('abc');
const m448 = utf8('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq');
const digests = {
  'SHA-1': ['a9993e364706816aba3e25717850c26c9cd0d89d', '84983e441c3bd26ebaae4aa1f95129e5e54670f1', 'da39a3ee5e6b4b0d3255bfef95601890afd80709'],
  'SHA-256': ['ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad', '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1', 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'],
  'SHA-384': ['cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7', '3391fdddfc8dc7393707a65b1b4709397cf8b1d162af05abfe8f450de5f36bc6b0455a8520bc4e6f5fe95b1fe3c8452b', '38b060a751ac96384cd9327eb1b1e36a21fdb71114be07434c0cc7bf63f6e1da274edebfe76f65fbd51ad2f14898b95b'],
  'SHA-512': ['ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f', '204a8fc6dda82f0a0ced7beb8e08a41657c16ef468b228a8279be331a703c33596fd15c13b1b07f9aa1d3bea57789ca031ad85c7a71dd70354ec631238ca3445', 'cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e'],
};
for (const [alg, [wantAbc, want448, wantEmpty]] of Object.entries(digests)) {
  assertEq(hex(await crypto.subtle.digest(alg, abc)), wantAbc, alg + '("abc")');
  assertEq(hex(await crypto.subtle.digest({ name: alg.toLowerCase() }, m448)), want448, alg + ' of the 448-bit message');
  assertEq(hex(await crypto.subtle.digest(alg, new ArrayBuffer(0))), wantEmpty, alg + ' of nothing');
}
assert((await crypto.subtle.digest('SHA-256', abc)) instanceof ArrayBuffer, 'digest gives an ArrayBuffer');
assertEq(hex(await crypto.subtle.digest('SHA-256', new DataView(utf8('xabcx').buffer, 1, 3))), digests['SHA-256'][0], 'digest of a DataView slice');
await assertRejects(crypto.subtle.digest('MD5', abc), 'NotSupportedError', 'MD5');
await assertRejects(crypto.subtle.digest('SHA-256', 'abc'), 'TypeError', 'a string is not data');
await assertRejects(crypto.subtle.digest('HMAC', abc), 'NotSupportedError', 'HMAC is not a digest');

// RFC 4231 test cases 1, 2, 3, 4, 6 and 7.
const hmacCases = [
  ['0b'.repeat(20), utf8('Hi There'), 'b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7', 'afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59cfaea9ea9076ede7f4af152e8b2fa9cb6', '87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cdedaa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854'],
  [hex(utf8('Jefe')), utf8('what do ya want for nothing?'), '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843', 'af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e8e2240ca5e69e2c78b3239ecfab21649', '164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737'],
  ['aa'.repeat(20), unhex('dd'.repeat(50)), '773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe', '88062608d3e6ad8a0aa2ace014c8a86f0aa635d947ac9febe83ef4e55966144b2a5ab39dc13814b94e3ab6e101a34f27', 'fa73b0089d56a284efb0f0756c890be9b1b5dbdd8ee81a3655f83e33b2279d39bf3e848279a722c806b485a47e67c807b946a337bee8942674278859e13292fb'],
  ['0102030405060708090a0b0c0d0e0f10111213141516171819', unhex('cd'.repeat(50)), '82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b', '3e8a69b7783c25851933ab6290af6ca77a9981480850009cc5577c6e1f573b4e6801dd23c4a7d679ccf8a386c674cffb', 'b0ba465637458c6990e5a8c5f61d4af7e576d97ff94b872de76f8050361ee3dba91ca5c11aa25eb4d679275cc5788063a5f19741120c4f2de2adebeb10a298dd'],
  ['aa'.repeat(131), utf8('Test Using Larger Than Block-Size Key - Hash Key First'), '60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54', '4ece084485813e9088d2c63a041bc5b44f9ef1012a2b588f3cd11f05033ac4c60c2ef6ab4030fe8296248df163f44952', '80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b013783f8f3526b56d037e05f2598bd0fd2215d6a1e5295e64f73f63f0aec8b915a985d786598'],
  ['aa'.repeat(131), utf8('This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.'), '9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2', '6617178e941f020d351e2f254e8fd32c602420feb0b8fb9adccebb82461e99c5a678cc31e799176d3860e6110c46523e', 'e37b6a775dc87dbaa4dfa9f96e5e3ffddebd71f8867289865df5a32d20cdc944b6022cac3c4982b10d5eeb55c3e4de15134676fb6de0446065c97440fa8c6a58'],
];
for (const [i, [k, data, ...macs]] of hmacCases.entries()) {
  for (const [j, hash] of ['SHA-256', 'SHA-384', 'SHA-512'].entries()) {
    const key = await crypto.subtle.importKey('raw', unhex(k), { name: 'HMAC', hash }, false, ['sign', 'verify']);
    const mac = await crypto.subtle.sign('HMAC', key, data);
    assertEq(hex(mac), macs[j], 'RFC 4231 case ' + (i + 1) + ' ' + hash);
    assert(await crypto.subtle.verify({ name: 'hmac' }, key, mac, data), 'verify case ' + (i + 1) + ' ' + hash);
    const bad = new Uint8Array(mac); bad[0] ^= 1;
    assert(!(await crypto.subtle.verify('HMAC', key, bad, data)), 'a changed MAC fails, case ' + (i + 1));
    assert(!(await crypto.subtle.verify('HMAC', key, new Uint8Array(mac).slice(0, 16), data)), 'a truncated MAC fails');
  }
}

// RFC 7515 A.1: HS256 with a JWK.
const a1Input = utf8('eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ');
const a1Key = await crypto.subtle.importKey('jwk', { kty: 'oct', k: 'AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow' }, { name: 'HMAC', hash: { name: 'SHA-256' } }, false, ['sign', 'verify']);
assertEq(hex(await crypto.subtle.sign('HMAC', a1Key, a1Input)), hex(b64url('dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk')), 'RFC 7515 A.1 HS256');
assertEq(a1Key.algorithm, { name: 'HMAC', hash: { name: 'SHA-256' }, length: 512 }, 'HMAC key algorithm');
assertEq([a1Key.type, a1Key.extractable, a1Key.usages], ['secret', false, ['sign', 'verify']], 'HMAC key properties');
assertEq(Object.keys(a1Key), [], 'a CryptoKey has no own properties');
assertEq(JSON.stringify(a1Key), '{}', 'nor anything JSON can see');
assertEq(Object.prototype.toString.call(a1Key), '[object CryptoKey]', 'CryptoKey toStringTag');

// RFC 7515 A.2: RS256, deterministic, so the signature must match byte for byte.
const a2 = {
  kty: 'RSA',
  n: 'ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ',
  e: 'AQAB',
  d: 'Eq5xpGnNCivDflJsRQBXHx1hdR1k6Ulwe2JZD50LpXyWPEAeP88vLNO97IjlA7_GQ5sLKMgvfTeXZx9SE-7YwVol2NXOoAJe46sui395IW_GO-pWJ1O0BkTGoVEn2bKVRUCgu-GjBVaYLU6f3l9kJfFNS3E0QbVdxzubSu3Mkqzjkn439X0M_V51gfpRLI9JYanrC4D4qAdGcopV_0ZHHzQlBjudU2QvXt4ehNYTCBr6XCLQUShb1juUO1ZdiYoFaFQT5Tw8bGUl_x_jTj3ccPDVZFD9pIuhLhBOneufuBiB4cS98l2SR_RQyGWSeWjnczT0QU91p1DhOVRuOopznQ',
  p: '4BzEEOtIpmVdVEZNCqS7baC4crd0pqnRH_5IB3jw3bcxGn6QLvnEtfdUdiYrqBdss1l58BQ3KhooKeQTa9AB0Hw_Py5PJdTJNPY8cQn7ouZ2KKDcmnPGBY5t7yLc1QlQ5xHdwW1VhvKn-nXqhJTBgIPgtldC-KDV5z-y2XDwGUc',
  q: 'uQPEfgmVtjL0Uyyx88GZFF1fOunH3-7cepKmtH4pxhtCoHqpWmT8YAmZxaewHgHAjLYsp1ZSe7zFYHj7C6ul7TjeLQeZD_YwD66t62wDmpe_HlB-TnBA-njbglfIsRLtXlnDzQkv5dTltRJ11BKBBypeeF6689rjcJIDEz9RWdc',
  dp: 'BwKfV3Akq5_MFZDFZCnW-wzl-CCo83WoZvnLQwCTeDv8uzluRSnm71I3QCLdhrqE2e9YkxvuxdBfpT_PI7Yz-FOKnu1R6HsJeDCjn12Sk3vmAktV2zb34MCdy7cpdTh_YVr7tss2u6vneTwrA86rZtu5Mbr1C1XsmvkxHQAdYo0',
  dq: 'h_96-mK1R_7glhsum81dZxjTnYynPbZpHziZjeeHcXYsXaaMwkOlODsWa7I9xXDoRwbKgB719rrmI2oKr6N3Do9U0ajaHF-NKJnwgjMd2w9cjz3_-kyNlxAr2v4IKhGNpmM5iIgOS1VZnOZ68m6_pbLBSp3nssTdlqvd0tIiTHU',
  qi: 'IYd7DHOhrWvxkwPQsRM2tOgrjbcrfvtQJipd-DlcxyVuuM9sQLdgjVk2oy26F0EmpScGLq2MowX7fhd_QJQ3ydy5cY7YIBi87w93IKLEdfnbJtoOPLUW0ITrJReOgo1cq9SbsxYawBgfp_gh6A5603k2-ZQwVK0JKSHuLFkuQ3U',
};
const a2Input = utf8('eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ');
const a2Sig = b64url('cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw');
const rs256 = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
const a2Priv = await crypto.subtle.importKey('jwk', a2, rs256, false, ['sign']);
assertEq(hex(await crypto.subtle.sign('RSASSA-PKCS1-v1_5', a2Priv, a2Input)), hex(a2Sig), 'RFC 7515 A.2 RS256');
const a2Pub = await crypto.subtle.importKey('jwk', { kty: 'RSA', n: a2.n, e: a2.e }, rs256, false, ['verify']);
assertEq(a2Pub.type, 'public', 'a JWK without d is a public key');
assertEq(a2Priv.algorithm.modulusLength, 2048, 'modulusLength');
assertEq(Array.from(a2Priv.algorithm.publicExponent), [1, 0, 1], 'publicExponent');
assert(await crypto.subtle.verify('RSASSA-PKCS1-v1_5', a2Pub, a2Sig, a2Input), 'RFC 7515 A.2 verifies');
assert(!(await crypto.subtle.verify('RSASSA-PKCS1-v1_5', a2Pub, a2Sig, utf8('other'))), 'A.2 signature does not verify other data');
await assertRejects(crypto.subtle.verify('RSASSA-PKCS1-v1_5', a2Priv, a2Sig, a2Input), 'InvalidAccessError', 'a private key cannot verify');
await assertRejects(crypto.subtle.sign('RSA-PSS', a2Priv, a2Input), 'InvalidAccessError', 'a PKCS1 key cannot sign PSS');
await assertRejects(crypto.subtle.importKey('jwk', { kty: 'RSA', n: a2.n, e: a2.e }, rs256, false, ['sign']), 'SyntaxError', 'a public key cannot be for signing');
await assertRejects(crypto.subtle.importKey('jwk', a2, rs256, false, []), 'SyntaxError', 'a private key needs usages');
await assertRejects(crypto.subtle.importKey('jwk', { ...a2, alg: 'RS384' }, rs256, false, ['sign']), 'DataError', 'alg must match the hash');
await assertRejects(crypto.subtle.importKey('jwk', { ...a2, key_ops: ['verify'] }, rs256, false, ['sign']), 'DataError', 'key_ops must allow the usages');
await assertRejects(crypto.subtle.importKey('jwk', { ...a2, q: a2.p }, rs256, false, ['sign']), 'DataError', 'inconsistent primes');

// RSA-PSS with the same key: randomised, so sign and verify.
const ps256 = { name: 'RSA-PSS', hash: 'SHA-256' };
const psPriv = await crypto.subtle.importKey('jwk', a2, ps256, false, ['sign']);
const psPub = await crypto.subtle.importKey('jwk', { kty: 'RSA', n: a2.n, e: a2.e }, ps256, false, ['verify']);
const psSig = await crypto.subtle.sign({ name: 'RSA-PSS', saltLength: 32 }, psPriv, a2Input);
assertEq(psSig.byteLength, 256, 'PSS signature length');
assert(await crypto.subtle.verify({ name: 'RSA-PSS', saltLength: 32 }, psPub, psSig, a2Input), 'PSS verifies');
assert(!(await crypto.subtle.verify({ name: 'RSA-PSS', saltLength: 20 }, psPub, psSig, a2Input)), 'PSS with another salt length fails');
await assertRejects(crypto.subtle.sign('RSA-PSS', psPriv, a2Input), 'TypeError', 'PSS needs saltLength');

// RSA through pkcs8 and spki.
const rsPriv = await crypto.subtle.importKey('pkcs8', fixtures.rsaPrivate, { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-512' }, false, ['sign']);
const rsPub = await crypto.subtle.importKey('spki', fixtures.rsaPublic, { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-512' }, false, ['verify']);
assert(await crypto.subtle.verify('RSASSA-PKCS1-v1_5', rsPub, await crypto.subtle.sign('RSASSA-PKCS1-v1_5', rsPriv, abc), abc), 'pkcs8/spki RSA round trip');
await assertRejects(crypto.subtle.importKey('pkcs8', fixtures.ec384Private, rs256, false, ['sign']), 'DataError', 'an EC key is not RSA');
await assertRejects(crypto.subtle.importKey('pkcs8', new Uint8Array([48, 3, 2, 1, 0]), rs256, false, ['sign']), 'DataError', 'garbage pkcs8');

// RFC 7515 A.3: ES256; the JWS signature is r||s, the form WebCrypto uses.
const a3 = { kty: 'EC', crv: 'P-256', x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU', y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0', d: 'jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI' };
const a3Input = utf8('eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ');
const a3Sig = b64url('DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q');
const p256 = { name: 'ECDSA', namedCurve: 'P-256' };
const es256 = { name: 'ECDSA', hash: 'SHA-256' };
const a3Pub = await crypto.subtle.importKey('jwk', { kty: 'EC', crv: 'P-256', x: a3.x, y: a3.y }, p256, false, ['verify']);
assert(await crypto.subtle.verify(es256, a3Pub, a3Sig, a3Input), 'RFC 7515 A.3 ES256 verifies');
assert(!(await crypto.subtle.verify(es256, a3Pub, a3Sig, abc)), 'A.3 signature does not verify other data');
assert(!(await crypto.subtle.verify({ name: 'ECDSA', hash: 'SHA-384' }, a3Pub, a3Sig, a3Input)), 'nor with another hash');
assertEq(a3Pub.algorithm, { name: 'ECDSA', namedCurve: 'P-256' }, 'EC key algorithm');
const a3Priv = await crypto.subtle.importKey('jwk', a3, p256, false, ['sign']);
const mine = await crypto.subtle.sign(es256, a3Priv, a3Input);
assertEq(mine.byteLength, 64, 'a P-256 signature is 64 bytes of r||s');
assert(await crypto.subtle.verify(es256, a3Pub, mine, a3Input), 'our ES256 signature verifies');
const rawPoint = new Uint8Array([4, ...b64url(a3.x), ...b64url(a3.y)]);
const a3Raw = await crypto.subtle.importKey('raw', rawPoint, p256, false, ['verify']);
assert(await crypto.subtle.verify(es256, a3Raw, a3Sig, a3Input), 'raw public point verifies A.3');
const der = new Uint8Array([0x30, 0x44, 0x02, 0x20, ...new Uint8Array(a3Sig.slice(0, 32)), 0x02, 0x20, ...new Uint8Array(a3Sig.slice(32))]);
assert(!(await crypto.subtle.verify(es256, a3Pub, der, a3Input)), 'an ASN.1 DER signature is not accepted');
await assertRejects(crypto.subtle.importKey('jwk', { ...a3, d: a3.x }, p256, false, ['sign']), 'DataError', 'd that does not match x, y');
await assertRejects(crypto.subtle.importKey('jwk', { ...a3, y: a3.x, d: undefined }, p256, false, ['verify']), 'DataError', 'a point off the curve');
await assertRejects(crypto.subtle.importKey('jwk', a3, { name: 'ECDSA', namedCurve: 'P-384' }, false, ['sign']), 'DataError', 'crv must match namedCurve');
await assertRejects(crypto.subtle.importKey('jwk', a3, { name: 'ECDSA', namedCurve: 'P-521' }, false, ['sign']), 'NotSupportedError', 'P-521');

// ES384: a published signature (lestrrat-go/jwx's TestDecode_ES384Compact_NoSigTrim) and pkcs8/spki keys.
const es384Pub = await crypto.subtle.importKey('jwk', { kty: 'EC', crv: 'P-384', x: 'YHVZ4gc1RDoqxKm4NzaN_Y1r7R7h3RM3JMteC478apSKUiLVb4UNytqWaLoE6ygH', y: 'CRKSqP-aYTIsqJfg_wZEEYUayUR5JhZaS2m4NLk2t1DfXZgfApAJ2lBO0vWKnUMp' }, { name: 'ECDSA', namedCurve: 'P-384' }, false, ['verify']);
const es384Token = 'eyJhbGciOiJFUzM4NCIsInR5cCI6IkpXVCIsImtpZCI6IjE5MzFmZTQ0YmFhMWNhZTkyZWUzNzYzOTQ0MDU1OGMwODdlMTRlNjk5ZWU5NjVhM2Q1OGU1MmU2NGY4MDE0NWIifQ.eyJpc3MiOiJicmt0LWNsaS0xLjAuN3ByZTEiLCJpYXQiOjE0ODQ2OTU1MjAsImp0aSI6IjgxYjczY2Y3In0.DdFi0KmPHSv4PfIMGcWGMSRLmZsfRPQ3muLFW6Ly2HpiLFFQWZ0VEanyrFV263wjlp3udfedgw_vrBLz3XC8CkbvCo_xeHMzaTr_yfhjoheSj8gWRLwB-22rOnUX_M0A';
const [h384, p384, s384] = es384Token.split('.');
assert(await crypto.subtle.verify({ name: 'ECDSA', hash: 'SHA-384' }, es384Pub, b64url(s384), utf8(h384 + '.' + p384)), 'ES384 token verifies');
const ecPriv = await crypto.subtle.importKey('pkcs8', fixtures.ec384Private, { name: 'ECDSA', namedCurve: 'P-384' }, false, ['sign']);
const ecPub = await crypto.subtle.importKey('spki', fixtures.ec384Public, { name: 'ECDSA', namedCurve: 'P-384' }, false, ['verify']);
const sig384 = await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-384' }, ecPriv, abc);
assertEq(sig384.byteLength, 96, 'a P-384 signature is 96 bytes');
assert(await crypto.subtle.verify({ name: 'ECDSA', hash: 'SHA-384' }, ecPub, sig384, abc), 'pkcs8/spki P-384 round trip');
assert(fixtures.goVerifyP384(abc.buffer, sig384), "Go's ecdsa verifies the r||s signature");
await assertRejects(crypto.subtle.importKey('spki', fixtures.ec384Public, p256, false, ['verify']), 'DataError', 'a P-384 key imported as P-256');

// RFC 8037 A.1 key, A.4 signature (Ed25519 is deterministic), A.5 verification.
const okp = { kty: 'OKP', crv: 'Ed25519', d: 'nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A', x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo' };
const edInput = utf8('eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc');
const edSig = 'hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg';
const edPriv = await crypto.subtle.importKey('jwk', okp, 'Ed25519', false, ['sign']);
assertEq(hex(await crypto.subtle.sign('Ed25519', edPriv, edInput)), hex(b64url(edSig)), 'RFC 8037 A.4 Ed25519 signature');
assertEq(edPriv.algorithm, { name: 'Ed25519' }, 'Ed25519 key algorithm');
const edPub = await crypto.subtle.importKey('jwk', { kty: 'OKP', crv: 'Ed25519', x: okp.x }, { name: 'Ed25519' }, false, ['verify']);
assert(await crypto.subtle.verify('Ed25519', edPub, b64url(edSig), edInput), 'RFC 8037 A.5 verifies');
assert(!(await crypto.subtle.verify('Ed25519', edPub, b64url(edSig), abc)), 'nor other data');
assert(!(await crypto.subtle.verify('Ed25519', edPub, b64url(edSig).slice(0, 63), edInput)), 'a short signature is false, not an error');
const edRaw = await crypto.subtle.importKey('raw', b64url(okp.x), 'Ed25519', false, ['verify']);
assert(await crypto.subtle.verify('Ed25519', edRaw, b64url(edSig), edInput), 'raw public key');
const edP8 = await crypto.subtle.importKey('pkcs8', fixtures.edPrivate, 'Ed25519', false, ['sign']);
const edSpki = await crypto.subtle.importKey('spki', fixtures.edPublic, 'Ed25519', false, ['verify']);
assert(await crypto.subtle.verify('Ed25519', edSpki, await crypto.subtle.sign('Ed25519', edP8, abc), abc), 'pkcs8/spki Ed25519 round trip');
await assertRejects(crypto.subtle.importKey('jwk', { ...okp, x: a3.x }, 'Ed25519', false, ['sign']), 'DataError', 'd that does not match x');
await assertRejects(crypto.subtle.importKey('jwk', { ...okp, crv: 'X25519' }, 'Ed25519', false, ['sign']), 'DataError', 'another curve');
await assertRejects(crypto.subtle.importKey('raw', abc, 'Ed25519', false, ['verify']), 'DataError', 'a short raw key');
await assertRejects(crypto.subtle.importKey('pkcs8', fixtures.ec384Private, 'Ed25519', false, ['sign']), 'DataError', 'an EC key is not Ed25519');

// Argument checks reject, never throw.
const p = crypto.subtle.sign('HMAC', {}, abc);
assert(p instanceof Promise, 'errors come as rejected promises');
await assertRejects(p, 'TypeError', 'a key that is not a CryptoKey');
await assertRejects(crypto.subtle.sign('HMAC', a2Priv, abc), 'InvalidAccessError', 'an RSA key for HMAC');
await assertRejects(crypto.subtle.importKey('raw', new Uint8Array(0), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']), 'DataError', 'an empty HMAC key');
await assertRejects(crypto.subtle.importKey('raw', abc, { name: 'HMAC' }, false, ['sign']), 'TypeError', 'HMAC needs a hash');
await assertRejects(crypto.subtle.importKey('raw', abc, { name: 'HMAC', hash: 'SHA-256' }, false, ['encrypt']), 'SyntaxError', 'HMAC cannot encrypt');
await assertRejects(crypto.subtle.importKey('raw', abc, { name: 'HMAC', hash: 'SHA-256' }, false, ['fly']), 'TypeError', 'not a usage');
await assertRejects(crypto.subtle.importKey('raw', abc, { name: 'HMAC', hash: 'SHA-256', length: 8 }, false, ['sign']), 'DataError', 'length that does not match');
await assertRejects(crypto.subtle.importKey('jwk', { kty: 'oct', k: 'AyM1', ext: false }, { name: 'HMAC', hash: 'SHA-256' }, true, ['sign']), 'DataError', 'ext false but extractable');
await assertRejects(crypto.subtle.importKey('jwk', { kty: 'RSA', k: 'AyM1' }, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']), 'DataError', 'kty must be oct');
await assertRejects(crypto.subtle.importKey('raw', abc, 'AES-GCM', false, ['encrypt']), 'NotSupportedError', 'AES');

await assertRejects(crypto.subtle.generateKey({ name: 'HMAC', hash: 'SHA-256' }, false, ['sign']), 'NotSupportedError', 'generateKey');

// exportKey: only what was imported as extractable, giving back what went in.
await assertRejects(crypto.subtle.exportKey('jwk', a1Key), 'InvalidAccessError', 'a key not extractable');
await assertRejects(crypto.subtle.exportKey('raw', a2Priv), 'InvalidAccessError', 'nor an RSA key imported without extractable');
const hx = await crypto.subtle.importKey('jwk', { kty: 'oct', k: 'AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow' }, { name: 'HMAC', hash: 'SHA-256' }, true, ['sign']);
assertEq(hx.extractable, true, 'extractable');
assertEq(await crypto.subtle.exportKey('jwk', hx), { kty: 'oct', k: 'AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow', alg: 'HS256', key_ops: ['sign'], ext: true }, 'HMAC jwk');
assertEq(hex(await crypto.subtle.exportKey('raw', hx)), hex(b64url('AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow')), 'HMAC raw');
const rx = await crypto.subtle.exportKey('jwk', await crypto.subtle.importKey('jwk', a2, rs256, true, ['sign']));
assertEq([rx.kty, rx.alg, rx.n, rx.e, rx.d, rx.p, rx.q, rx.dp, rx.dq, rx.qi], ['RSA', 'RS256', a2.n, a2.e, a2.d, a2.p, a2.q, a2.dp, a2.dq, a2.qi], 'RSA private jwk, CRT values included');
assertEq(hex(await crypto.subtle.exportKey('pkcs8', await crypto.subtle.importKey('pkcs8', fixtures.rsaPrivate, rs256, true, ['sign']))), hex(fixtures.rsaPrivate), 'RSA pkcs8');
await assertRejects(crypto.subtle.exportKey('spki', await crypto.subtle.importKey('jwk', a2, rs256, true, ['sign'])), 'InvalidAccessError', 'a private key as spki');
const ex = await crypto.subtle.exportKey('jwk', await crypto.subtle.importKey('jwk', a3, p256, true, ['sign']));
assertEq([ex.kty, ex.crv, ex.x, ex.y, ex.d], ['EC', 'P-256', a3.x, a3.y, a3.d], 'EC private jwk');
const epub = await crypto.subtle.importKey('spki', fixtures.ec384Public, { name: 'ECDSA', namedCurve: 'P-384' }, true, ['verify']);
assertEq(hex(await crypto.subtle.exportKey('spki', epub)), hex(fixtures.ec384Public), 'EC spki');
assertEq(new Uint8Array(await crypto.subtle.exportKey('raw', epub))[0], 4, 'EC raw is an uncompressed point');
const okx = await crypto.subtle.exportKey('jwk', await crypto.subtle.importKey('jwk', okp, 'Ed25519', true, ['sign']));
assertEq([okx.kty, okx.crv, okx.x, okx.d], ['OKP', 'Ed25519', okp.x, okp.d], 'Ed25519 jwk');
await assertRejects(crypto.subtle.exportKey('pem', hx), 'TypeError', 'an unknown format');
