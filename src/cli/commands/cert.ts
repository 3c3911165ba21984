/**
 * `ship-hub cert show|renew`: our certificate, whose SKI is our identity (SHIP §9.1).
 */
import type { Command } from 'commander';
import { shipQrText } from '../../mdns/txt.js';
import { reissueCertificate } from '../../trust/identity.js';
import { print, config, identityOf } from '../context.js';

export function registerCertCommands(program: Command): void {
  const cert = program.command('cert').description('our certificate (the SKI is our identity)');
  cert
    .command('show')
    .description('SKI, SHIP ID, expiry and the SHIP installation QR text')
    .option('--json', 'JSON output')
    .option('--config <file>', 'config.json')
    .action(async (opts: { json?: boolean; config?: string }) => {
      const cfg = await config(opts.config);
      const id = await identityOf(cfg);
      const qr = shipQrText({
        ski: id.ski,
        shipId: cfg.ship_id,
        brand: cfg.device_brand,
        type: cfg.device_type,
        model: cfg.device_model,
        serial: cfg.device_serial,
      });
      const info = {
        ski: id.ski,
        ship_id: cfg.ship_id,
        subject: id.subject,
        not_before: id.notBefore.toISOString(),
        not_after: id.notAfter.toISOString(),
        fingerprint_sha256: id.fingerprintSha256,
        certificate_file: cfg.certificate_file,
        qr_text: qr,
      };
      if (opts.json === true) {
        print(JSON.stringify(info));
        return;
      }
      print(`SKI:          ${id.ski}`);
      print(`SHIP ID:      ${cfg.ship_id}`);
      // OpenSSL gives one RDN per line; one line here, like the other fields.
      print(`Subject:      ${id.subject.split('\n').join(', ')}`);
      print(`Valid until:  ${info.not_after}`);
      print(`SHA-256:      ${id.fingerprintSha256}`);
      print(`QR text:      ${qr}`);
      print(`Certificate:  ${cfg.certificate_file}`);
    });
  cert
    .command('renew')
    .description(
      're-issue the certificate from the existing key (also when it is missing or does not ' +
        'match the key): the SKI and every pairing survive',
    )
    .option('--days <days>', 'validity in days', '3650')
    .option('--config <file>', 'config.json')
    .action(async (opts: { days: string; config?: string }) => {
      const days = Number(opts.days);
      if (!Number.isInteger(days) || days < 1 || days > 36_500) {
        throw new TypeError(
          `--days: expected a whole number of days from 1 to 36500, got "${opts.days}"`,
        );
      }
      const cfg = await config(opts.config);
      const { identity, previous, keptAt } = await reissueCertificate({
        certPath: cfg.certificate_file,
        keyPath: cfg.private_key_file,
        validityDays: days,
        // The subject the daemon gives a new identity; a valid certificate keeps its own.
        subject: {
          commonName: `${cfg.device_model}-${cfg.device_serial}`.slice(0, 64),
          organization: cfg.organization,
          organizationalUnit: cfg.device_brand,
          country: cfg.country,
        },
      });
      const what =
        previous === 'valid'
          ? 'renewed'
          : previous === 'missing'
            ? 're-issued the missing certificate'
            : `replaced the certificate that did not match the key (kept at ${keptAt ?? '?'})`;
      print(`${what}: ${cfg.certificate_file}, valid until ${identity.notAfter.toISOString()}`);
      print(`SKI (from the key ${cfg.private_key_file}, unchanged): ${identity.ski}`);
      print('restart the daemon to present the new certificate');
    });
}
