import { describe, expect, test } from 'vitest';
import { isMentioned, stripMentions } from './mentions.ts';
import { roomMessageText } from './message-text.ts';
import { RoomTranscript } from './room-transcript.ts';

describe('mentions', () => {
  test.each([
    ['@ada what is a room?', true],
    ['hey @ADA, what is a room?', true],
    ['what do you think, @Ada?', true],
    ['(@ada) hello', true],
    ['@ada: hello', true],
    ['end of a sentence @ada.', true],
    ['@ada', true],
    ['what about ada?', false],
    ['mail me at bob@ada', false],
    ['@adam hello', false],
    ['@ada2 hello', false],
    ['@ada-gpt hello', false],
    ['@ada.v2 hello', false],
    ['@ada_b hello', false],
    ['é@ada hello', false],
  ])('%j mentions ada: %s', (text, expected) => {
    expect(isMentioned(text, ['ada'])).toBe(expected);
  });

  test('any of several names', () => {
    expect(isMentioned('hi @Grace', ['ada', 'grace'])).toBe(true);
    expect(isMentioned('hi @grace.hopper', ['ada', 'grace'])).toBe(false);
    expect(isMentioned('hi @grace.hopper', ['grace.hopper'])).toBe(true);
    expect(isMentioned('no at sign at all', ['ada'])).toBe(false);
  });

  test.each([
    ['@ada what is a room?', 'what is a room?'],
    ['@Ada, what is a room?', 'what is a room?'],
    ['@ada: explain', 'explain'],
    ['hey @ada what is a room?', 'hey what is a room?'],
    ['what do you think, @ada?', 'what do you think?'],
    ['what do you think @ada?', 'what do you think?'],
    ['@ada summarise what @bob said', 'summarise what @bob said'],
    ['@ada @ada twice', 'twice'],
    ['@ada', ''],
    ['mail bob@ada', 'mail bob@ada'],
    ['  no mention  ', 'no mention'],
  ])('stripping ada from %j gives %j', (text, expected) => {
    expect(stripMentions(text, ['ada'])).toBe(expected);
  });
});

describe('room message text', () => {
  test.each([
    ['hello', 'hello'],
    [{ text: 'hi' }, 'hi'],
    [{ prompt: 'p' }, 'p'],
    [{ message: 'm', text: 1 }, 'm'],
    [{ content: 'c' }, 'c'],
    [{ other: 'x' }, undefined],
    [['hello'], undefined],
    [42, undefined],
    [null, undefined],
  ])('%j → %j', (data, expected) => {
    expect(roomMessageText(data)).toBe(expected);
  });
});

describe('room transcript', () => {
  test('keeps the last messages, oldest first, without the one being answered', () => {
    const transcript = new RoomTranscript(3);
    const messages = ['a', 'b', 'c', 'd', 'e'].map((content) => transcript.push({ role: 'user', content }));
    expect(transcript.snapshot().map((m) => m.content)).toEqual(['c', 'd', 'e']);
    expect(transcript.snapshot(messages[3]).map((m) => m.content)).toEqual(['c', 'e']);
    expect(transcript.size).toBe(3);
    transcript.clear();
    expect(transcript.snapshot()).toEqual([]);
  });

  test('capacity 0 remembers nothing; long messages are cut', () => {
    const none = new RoomTranscript(0);
    none.push({ role: 'user', content: 'x' });
    expect(none.snapshot()).toEqual([]);
    const short = new RoomTranscript(2, 5);
    expect(short.push({ role: 'user', content: '0123456789' }).content).toBe('01234…');
    expect(short.snapshot()).toEqual([{ role: 'user', content: '01234…' }]);
  });
});
