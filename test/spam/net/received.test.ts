/**
 * The client address and HELO from the Received fields our MTA added: Postfix, Sendmail, Exim and
 * qmail forms, IPv6, local hops passed over, local submission and forged fields below the top.
 */
import { describe, expect, it } from "vitest";
import {
  clientFromReceived, MAX_RECEIVED_CHARS, MAX_RECEIVED_FIELDS, parseReceivedFrom, topReceivedFields,
} from "../../../host/spam/net/received.js";

const mail = (...received: string[]) =>
  Buffer.from([...received.map((r) => `Received: ${r}`), "From: a@example.org", "Subject: s", "", "body", ""].join("\r\n"));

describe("parseReceivedFrom", () => {
  it.each([
    ["Postfix", "from mail.example.org (mail.example.org [203.0.113.5])\r\n\tby mx.local (Postfix) with ESMTPS id 4B2; Tue, 24 Nov 2026 10:00:00 +0000",
      { clientAddr: "203.0.113.5", helo: "mail.example.org", clientName: "mail.example.org" }],
    ["Postfix, no rDNS", "from helo.example (unknown [203.0.113.6]) by mx.local (Postfix) with SMTP id 1",
      { clientAddr: "203.0.113.6", helo: "helo.example" }],
    ["Postfix IPv6", "from v6.example.org (v6.example.org [IPv6:2001:db8::25]) by mx.local (Postfix) with ESMTP id 2",
      { clientAddr: "2001:db8::25", helo: "v6.example.org", clientName: "v6.example.org" }],
    ["Sendmail", "from helo.example (user@rdns.example.net [198.51.100.9] (may be forged))\n\tby mx.local (8.17.1/8.17.1) with ESMTP id x; Tue, 24 Nov 2026",
      { clientAddr: "198.51.100.9", helo: "helo.example", clientName: "rdns.example.net" }],
    ["Sendmail, bracket only", "from helo.example ([198.51.100.10]) by mx.local (8.17.1) id y",
      { clientAddr: "198.51.100.10", helo: "helo.example" }],
    ["Exim with helo=", "from rdns.example.net ([198.51.100.11] helo=liar.example)\n\tby mx.local with esmtp (Exim 4.96) id 1",
      { clientAddr: "198.51.100.11", helo: "liar.example", clientName: "rdns.example.net" }],
    ["Exim with port", "from rdns.example.net ([198.51.100.12]:41234 helo=h.example) by mx.local with esmtps (Exim 4.96) id 2",
      { clientAddr: "198.51.100.12", helo: "h.example", clientName: "rdns.example.net" }],
    ["Exim without rDNS", "from [198.51.100.13] (helo=h2.example) by mx.local with smtp (Exim 4.96) id 3",
      { clientAddr: "198.51.100.13", helo: "h2.example" }],
    ["Exim IPv6", "from [2001:db8::26] (helo=h3.example) by mx.local with esmtp (Exim 4.96) id 4",
      { clientAddr: "2001:db8::26", helo: "h3.example" }],
    ["qmail", "from unknown (HELO q.example) (198.51.100.14)\n  by mx.local with SMTP; 24 Nov 2026",
      { clientAddr: "198.51.100.14", helo: "q.example" }],
    ["IPv4-mapped", "from h.example (h.example [::ffff:198.51.100.15]) by mx.local (Postfix) id 5",
      { clientAddr: "198.51.100.15", helo: "h.example", clientName: "h.example" }],
  ])("%s", (_form, value, want) => {
    expect(parseReceivedFrom(value)).toEqual(want);
  });

  it.each([
    ["local submission", "by mx.local (Postfix, from userid 1000) id 6; Tue, 24 Nov 2026"],
    ["no address", "from helo.example (rdns.example.net) by mx.local id 7"],
    ["not an address in brackets", "from helo.example (rdns [999.1.2.3]) by mx.local id 8"],
    ["empty", ""],
  ])("gives nothing for %s", (_what, value) => {
    expect(parseReceivedFrom(value)).toBeUndefined();
  });

  it("cuts a huge field at MAX_RECEIVED_CHARS before parsing it", () => {
    const huge = "from " + "a".repeat(200_000) + " (" + "b ".repeat(100_000) + "[203.0.113.5])";
    expect(parseReceivedFrom(huge)).toBeUndefined(); // the address is past the cut
    const long = `from h.example (${"x".repeat(MAX_RECEIVED_CHARS / 2)} [203.0.113.5]) by mx`;
    expect(parseReceivedFrom(long)?.clientAddr).toBe("203.0.113.5");
  });
});

describe("clientFromReceived", () => {
  it("takes the topmost field, not the (forgeable) ones below it", () => {
    const raw = mail(
      "from mail.example.org (mail.example.org [203.0.113.5]) by mx.local (Postfix) id 1",
      "from forged.example (forged.example [192.0.2.66]) by mail.example.org id 2",
    );
    expect(clientFromReceived(raw)).toEqual({ clientAddr: "203.0.113.5", helo: "mail.example.org", clientName: "mail.example.org" });
  });

  it("passes over local hops on loopback (content filter, re-injection)", () => {
    const raw = mail(
      "from localhost (localhost [127.0.0.1]) by mx.local (Postfix) id 3",
      "from localhost (localhost [::1]) by mx.local (Postfix) id 4",
      "from mail.example.org (mail.example.org [203.0.113.5]) by mx.local (Postfix) id 5",
    );
    expect(clientFromReceived(raw)?.clientAddr).toBe("203.0.113.5");
  });

  it("stops at a local submission: what is below it came from elsewhere", () => {
    const raw = mail(
      "by mx.local (Postfix, from userid 1000) id 6",
      "from forged.example (forged.example [192.0.2.66]) by x id 7",
    );
    expect(clientFromReceived(raw)).toBeUndefined();
  });

  it(`looks at no more than ${MAX_RECEIVED_FIELDS} fields`, () => {
    const local = Array.from({ length: MAX_RECEIVED_FIELDS }, (_, i) => `from localhost (localhost [127.0.0.1]) by mx id ${i}`);
    const raw = mail(...local, "from mail.example.org (mail.example.org [203.0.113.5]) by mx id z");
    expect(topReceivedFields(raw)).toHaveLength(MAX_RECEIVED_FIELDS);
    expect(clientFromReceived(raw)).toBeUndefined();
    expect(clientFromReceived(mail(...local.slice(1), "from m.example.org (m.example.org [203.0.113.5]) by mx id z"))?.clientAddr).toBe("203.0.113.5");
  });

  it("unfolds continuation lines, with LF-only line ends too, and ignores the body", () => {
    const raw = Buffer.from("Return-Path: <a@example.org>\nReceived: from h.example\n\t(h.example [203.0.113.8])\n\tby mx.local (Postfix) id 8\nSubject: s\n\nReceived: from body.example (b [192.0.2.1])\n");
    expect(clientFromReceived(raw)).toEqual({ clientAddr: "203.0.113.8", helo: "h.example", clientName: "h.example" });
    expect(clientFromReceived(Buffer.from("Subject: s\n\nReceived: from body.example (b [192.0.2.1]) by x\n"))).toBeUndefined();
  });
});
