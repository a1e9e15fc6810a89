import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DecodeError, SstpdError } from '../../src/common/errors.js';
import {
  AttributeId,
  MAX_PPP_FRAME_LEN,
  MessageType,
  Status,
  callAbort,
  callConnectAck,
  callConnectNak,
  callConnectRequest,
  callConnected,
  callDisconnect,
  callDisconnectAck,
  dataPacket,
  decodeControl,
  decodeCryptoBinding,
  decodeCryptoBindingRequest,
  decodeEncapsulatedProtocol,
  decodePacket,
  decodeStatusInfo,
  echoRequest,
  echoResponse,
  encodeControl,
  messageTypeName,
  readHeader,
} from '../../src/sstp/wire.js';
import { vx } from '../support/vectors.js';

const P = 'sstp_packets';
const hex = (b: Buffer): string => b.toString('hex');
const isDecode = (code?: string) => (e: unknown): boolean => e instanceof DecodeError && (code === undefined || e.code === code);

test('builders are byte-exact with sstp_packets', () => {
  const nonce = vx('sstp_binding_ms_sstp_4_7', 'nonce');
  assert.equal(hex(callConnectRequest()), hex(vx(P, 'call_connect_request')));
  assert.equal(hex(callConnectAck(3, nonce)), hex(vx(P, 'call_connect_ack_both_hashes')));
  assert.equal(hex(callConnectAck(2, nonce)), hex(vx('sstp_binding_ms_sstp_4_7', 'call_connect_ack')));
  assert.equal(
    hex(callConnectNak([{ attribId: AttributeId.ENCAPSULATED_PROTOCOL_ID, status: Status.VALUE_NOT_SUPPORTED, value: Buffer.from([0, 1]) }])),
    hex(vx(P, 'call_connect_nak_protocol_not_supported')),
  );
  assert.equal(hex(callAbort(Status.INVALID_FRAME_RECEIVED, AttributeId.STATUS_INFO)), hex(vx(P, 'call_abort_invalid_frame')));
  assert.equal(hex(callAbort(Status.NEGOTIATION_TIMEOUT)), hex(vx(P, 'call_abort_negotiation_timeout')));
  assert.equal(hex(callDisconnect()), hex(vx(P, 'call_disconnect_no_error')));
  assert.equal(hex(callDisconnectAck()), hex(vx(P, 'call_disconnect_ack')));
  assert.equal(hex(echoRequest()), hex(vx(P, 'echo_request')));
  assert.equal(hex(echoResponse()), hex(vx(P, 'echo_response')));
  assert.equal(hex(dataPacket(vx(P, 'data_lcp_echo_request').subarray(4))), hex(vx(P, 'data_lcp_echo_request')));
});

test('callConnected rebuilds the MS-SSTP 4.7 and SHA-1 messages from their fields', () => {
  const v = 'sstp_binding_ms_sstp_4_7';
  const built = callConnected({ hashProtocol: 2, nonce: vx(v, 'nonce'), certHash: vx(v, 'cert_hash'), mac: vx(v, 'compound_mac') });
  assert.equal(hex(built), hex(vx(v, 'call_connected')));
  const s = 'sstp_binding_sha1_thirdparty';
  const sha1 = callConnected({ hashProtocol: 1, nonce: vx(s, 'nonce'), certHash: vx(s, 'cert_hash_sha1'), mac: vx(s, 'compound_mac') });
  assert.equal(hex(sha1), hex(vx(s, 'call_connected')));
});

test('decodes every vector packet to the expected fields', () => {
  const req = decodeControl(vx(P, 'call_connect_request'));
  assert.equal(req.type, MessageType.CALL_CONNECT_REQUEST);
  assert.equal(req.attributes.length, 1);
  assert.equal(req.attributes[0]!.id, AttributeId.ENCAPSULATED_PROTOCOL_ID);
  assert.equal(decodeEncapsulatedProtocol(req.attributes[0]!.value), 1);

  const ack = decodeControl(vx(P, 'call_connect_ack_both_hashes'));
  const cbr = decodeCryptoBindingRequest(ack.attributes[0]!.value);
  assert.equal(cbr.bitmask, 3);
  assert.equal(hex(cbr.nonce), hex(vx('sstp_binding_ms_sstp_4_7', 'nonce')));

  const nak = decodeControl(vx(P, 'call_connect_nak_protocol_not_supported'));
  const si = decodeStatusInfo(nak.attributes[0]!.value);
  assert.deepEqual({ attribId: si.attribId, status: si.status, value: hex(si.value!) }, { attribId: 1, status: 4, value: '0001' });

  const abort = decodeStatusInfo(decodeControl(vx(P, 'call_abort_negotiation_timeout')).attributes[0]!.value);
  assert.equal(abort.status, Status.NEGOTIATION_TIMEOUT);

  const cc = decodeControl(vx('sstp_binding_ms_sstp_4_7', 'call_connected'));
  const b = decodeCryptoBinding(cc.attributes[0]!.value);
  assert.equal(b.hashProtocol, 2);
  assert.equal(hex(b.mac), vx('sstp_binding_ms_sstp_4_7', 'compound_mac').toString('hex'));

  const data = decodePacket(vx(P, 'data_lcp_echo_request'));
  assert.equal(data.kind, 'data');
  assert.equal(data.kind === 'data' && hex(data.frame), 'ff03c0210901000801020304');

  for (const k of ['call_disconnect_ack', 'echo_request', 'echo_response']) {
    const p = decodeControl(vx(P, k));
    assert.equal(p.attributes.length, 0);
  }
  assert.equal(decodeControl(vx(P, 'echo_request')).type, MessageType.ECHO_REQUEST);
});

test('unknown message types and attribute ids still decode (open numeric types)', () => {
  const raw = encodeControl(0x00ab, [{ id: 0x77, value: Buffer.from([1, 2, 3]) }]);
  const p = decodeControl(raw);
  assert.equal(p.type, 0xab);
  assert.equal(p.attributes[0]!.id, 0x77);
  assert.equal(hex(p.attributes[0]!.value), '010203');
  assert.equal(messageTypeName(0xab), 'UNKNOWN_0x00ab');
  assert.equal(messageTypeName(MessageType.CALL_ABORT), 'CALL_ABORT');
});

test('reserved bits are ignored on receipt', () => {
  const raw = Buffer.from(vx(P, 'echo_request'));
  raw[1] = 0xfe | 1; // 7 reserved bits set, C=1
  raw[2] = 0xf0; // 4 reserved length bits set
  assert.deepEqual(readHeader(raw), { control: true, length: 8 });
  assert.equal(decodeControl(raw).type, MessageType.ECHO_REQUEST);
  const req = Buffer.from(vx(P, 'call_connect_request'));
  req[10] = 0xa0; // attribute length reserved bits
  req[8] = 0x55; // attribute reserved byte
  assert.equal(decodeEncapsulatedProtocol(decodeControl(req).attributes[0]!.value), 1);
});

test('rejects a wrong version with E_SSTP_VERSION', () => {
  const raw = Buffer.from(vx(P, 'echo_request'));
  raw[0] = 0x11;
  assert.throws(() => decodePacket(raw), isDecode('E_SSTP_VERSION'));
  assert.throws(() => readHeader(raw), isDecode('E_SSTP_VERSION'));
});

test('rejects malformed packets with DecodeError', () => {
  const good = vx(P, 'call_connect_request');
  // header length disagrees with the buffer
  assert.throws(() => decodePacket(good.subarray(0, 13)), isDecode('E_SSTP_LENGTH'));
  assert.throws(() => decodePacket(Buffer.concat([good, Buffer.from([0])])), isDecode('E_SSTP_LENGTH'));
  // control packet shorter than 8, data shorter than 4
  assert.throws(() => readHeader(Buffer.from('10010007', 'hex')), isDecode('E_SSTP_LENGTH'));
  assert.throws(() => readHeader(Buffer.from('10000003', 'hex')), isDecode('E_SSTP_LENGTH'));
  assert.throws(() => readHeader(Buffer.from('1001', 'hex')), isDecode('E_SSTP_LENGTH'));
  // attribute count mismatch (says 2, has 1)
  const count = Buffer.from(good);
  count[7] = 2;
  assert.throws(() => decodeControl(count), isDecode('E_SSTP_ATTRIBUTE'));
  // attribute length overruns the packet
  const over = Buffer.from(good);
  over[11] = 7;
  assert.throws(() => decodeControl(over), isDecode('E_SSTP_ATTRIBUTE'));
  // attribute length < 4
  const under = Buffer.from(good);
  under[11] = 3;
  assert.throws(() => decodeControl(under), isDecode('E_SSTP_ATTRIBUTE'));
  // trailing bytes after the last attribute (shorter attribute, same packet length)
  const trailing = Buffer.from(good);
  trailing[11] = 5;
  assert.throws(() => decodeControl(trailing), isDecode());
  // a data packet is not a control packet
  assert.throws(() => decodeControl(vx(P, 'data_lcp_echo_request')), isDecode());
});

test('attribute value decoders check their lengths', () => {
  assert.throws(() => decodeEncapsulatedProtocol(Buffer.alloc(3)), isDecode('E_SSTP_ATTRIBUTE'));
  assert.throws(() => decodeCryptoBindingRequest(Buffer.alloc(35)), isDecode('E_SSTP_ATTRIBUTE'));
  assert.throws(() => decodeCryptoBinding(Buffer.alloc(99)), isDecode('E_SSTP_ATTRIBUTE'));
  assert.throws(() => decodeStatusInfo(Buffer.alloc(7)), isDecode());
  assert.equal(decodeStatusInfo(Buffer.alloc(8)).value!.length, 0);
});

test('size limits: 4091-byte frame ok, 4092 throws; control packets capped at 4095', () => {
  assert.equal(dataPacket(Buffer.alloc(MAX_PPP_FRAME_LEN)).length, 4095);
  assert.equal(readHeader(dataPacket(Buffer.alloc(MAX_PPP_FRAME_LEN))).length, 4095);
  assert.throws(() => dataPacket(Buffer.alloc(MAX_PPP_FRAME_LEN + 1)), (e: unknown) => e instanceof SstpdError && e.code === 'E_SSTP_TOO_LONG');
  assert.throws(() => encodeControl(1, [{ id: 9, value: Buffer.alloc(4084) }]), (e: unknown) => e instanceof SstpdError);
  assert.equal(encodeControl(1, [{ id: 9, value: Buffer.alloc(4083) }]).length, 4095);
  assert.throws(() => callConnectNak([]), (e: unknown) => e instanceof SstpdError);
});

test('round trip: encodeControl → decodeControl', () => {
  const attrs = [
    { id: 2, value: Buffer.from('00000001000000040001', 'hex') },
    { id: 9, value: Buffer.alloc(0) },
  ];
  const p = decodeControl(encodeControl(MessageType.CALL_CONNECT_NAK, attrs));
  assert.equal(p.type, MessageType.CALL_CONNECT_NAK);
  assert.deepEqual(p.attributes.map((a) => [a.id, hex(a.value)]), attrs.map((a) => [a.id, hex(a.value)]));
});
