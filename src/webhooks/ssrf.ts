// SSRF guard for webhook targets: an attacker chooses the URL, so only http(s) is allowed, the
// host is resolved here, every address it resolves to must be public, and the request then
// connects to the address that was checked (no second lookup an attacker's DNS could change).
import { lookup } from 'node:dns/promises'
import { BlockList, isIP } from 'node:net'

/** node:net's BlockList also matches IPv4-mapped IPv6 (::ffff:127.0.0.1) against IPv4 rules. */
const FORBIDDEN = new BlockList()
for (const [net, prefix] of [
  ['0.0.0.0', 8], // "this" network
  ['10.0.0.0', 8], // private
  ['100.64.0.0', 10], // carrier-grade NAT (also Alibaba's metadata 100.100.100.200)
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local, cloud metadata 169.254.169.254
  ['172.16.0.0', 12], // private
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // documentation
  ['192.168.0.0', 16], // private
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24], // documentation
  ['203.0.113.0', 24], // documentation
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
] as const)
  FORBIDDEN.addSubnet(net, prefix, 'ipv4')
for (const [net, prefix] of [
  ['::', 128], // unspecified
  ['::1', 128], // loopback
  ['::', 96], // IPv4-compatible (deprecated)
  ['64:ff9b::', 96], // NAT64 — could reach any IPv4 address, private ones included
  ['64:ff9b:1::', 48], // local-use NAT64
  ['100::', 64], // discard
  ['2001:db8::', 32], // documentation
  ['2002::', 16], // 6to4 — embeds an arbitrary IPv4 address
  ['fc00::', 7], // unique local (AWS metadata fd00:ec2::254 included)
  ['fe80::', 10], // link-local
  ['fec0::', 10], // site-local (deprecated)
  ['ff00::', 8], // multicast
] as const)
  FORBIDDEN.addSubnet(net, prefix, 'ipv6')

export function isForbiddenAddress(address: string): boolean {
  const family = isIP(address)
  if (family === 0) return true
  return FORBIDDEN.check(address, family === 4 ? 'ipv4' : 'ipv6')
}

export class TargetRefused extends Error {}

/** The host name has no address right now: refused at delivery; accepted at registration (see service). */
export class TargetUnresolvable extends TargetRefused {}

export interface CheckedTarget {
  url: URL
  address: string
  family: 4 | 6
}

/** Parses, resolves and checks a webhook URL; throws TargetRefused with a client-safe reason. */
export async function checkTarget(rawUrl: string, allowPrivate: boolean): Promise<CheckedTarget> {
  let url: URL
  try {
    url = new URL(rawUrl)
  } catch {
    throw new TargetRefused('must be an absolute http or https URL')
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TargetRefused('must use http or https')
  if (url.username !== '' || url.password !== '') throw new TargetRefused('must not contain credentials')
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname
  if (host === '') throw new TargetRefused('must name a host')
  let addresses: { address: string; family: number }[]
  try {
    addresses = isIP(host) ? [{ address: host, family: isIP(host) }] : await lookup(host, { all: true })
  } catch {
    throw new TargetUnresolvable('host does not resolve')
  }
  if (addresses.length === 0) throw new TargetUnresolvable('host does not resolve')
  // Every address must be public: otherwise a host with one public and one private record
  // could be checked on the first and connected on the second.
  if (!allowPrivate && addresses.some((a) => isForbiddenAddress(a.address)))
    throw new TargetRefused('resolves to a loopback, private, link-local or metadata address')
  const first = addresses[0]!
  return { url, address: first.address, family: first.family === 6 ? 6 : 4 }
}
