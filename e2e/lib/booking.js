'use strict';
// The one booking form on `/`: the tiers are a radio group of cards (#pick-<tier>), then
// #quantity, #name, #email and the button #book, all in #booking-form.

/** Chooses a tier's card and fills the fields given (leaves the others as they are). */
async function fillBooking(page, { tier = 'vip', quantity, name, email } = {}) {
  await page.check(`#pick-${tier}`);
  if (quantity !== undefined) await page.fill('#quantity', String(quantity));
  if (name !== undefined) await page.fill('#name', name);
  if (email !== undefined) await page.fill('#email', email);
}

/** The text of an element with its white space collapsed. */
async function text(page, selector) {
  return ((await page.textContent(selector)) || '').replace(/\s+/g, ' ').trim();
}

module.exports = { fillBooking, text };
