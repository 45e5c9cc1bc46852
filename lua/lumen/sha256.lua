-- lumen.sha256: SHA-256 (FIPS 180-4) in pure Lua 5.4, on 64-bit integers masked to 32 bits.
--
--   local sha256 = require "lumen.sha256"
--   sha256.hex("abc")             --> "ba7816bf..."
--   sha256.file("x.png")          --> hex digest | nil, msg
--   local h = sha256.new(); h:update(a); h:update(b); h:hex()
--
-- Reports use it for input and weight file hashes, so a re-run can tell which frames are done.
-- Speed matters only for weight files (~14 MB): the block function reads 16 words with one
-- string.unpack and keeps the eight state words in locals.
local M = {}

local K = {
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
}

local INIT = {
  0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
}

local M32 = 0xffffffff
-- message schedule, reused by every block (the module is not reentrant across coroutines
-- mid-block, and blocks never yield)
local W = {}

-- Compresses the 64-byte block at s[i .. i+63] into state H (a table of 8 words).
local unpack, Kt = string.unpack, K
local function block(H, s, i)
  local w = W
  w[1], w[2], w[3], w[4], w[5], w[6], w[7], w[8], w[9], w[10], w[11], w[12], w[13], w[14], w[15],
    w[16] = unpack(">I4I4I4I4I4I4I4I4I4I4I4I4I4I4I4I4", s, i)
  for j = 17, 64 do
    local x, y = w[j - 15], w[j - 2]
    w[j] = (w[j - 16] + w[j - 7]
      + ((x >> 7 | x << 25) ~ (x >> 18 | x << 14) ~ (x >> 3))
      + ((y >> 17 | y << 15) ~ (y >> 19 | y << 13) ~ (y >> 10))) & M32
  end
  local a, b, c, d, e, f, g, h = H[1], H[2], H[3], H[4], H[5], H[6], H[7], H[8]
  for j = 1, 64 do
    -- rotations of a 32-bit value held in a 64-bit integer: the bits above 32 are masked once
    local t1 = (h + (((e >> 6 | e << 26) ~ (e >> 11 | e << 21) ~ (e >> 25 | e << 7)) & M32)
      + ((e & f) ~ (~e & g)) + Kt[j] + w[j]) & M32
    local t2 = ((((a >> 2 | a << 30) ~ (a >> 13 | a << 19) ~ (a >> 22 | a << 10)) & M32)
      + ((a & b) ~ (a & c) ~ (b & c)))
    h, g, f, e, d, c, b, a = g, f, e, (d + t1) & M32, c, b, a, (t1 + t2) & M32
  end
  H[1], H[2], H[3], H[4] = (H[1] + a) & M32, (H[2] + b) & M32, (H[3] + c) & M32, (H[4] + d) & M32
  H[5], H[6], H[7], H[8] = (H[5] + e) & M32, (H[6] + f) & M32, (H[7] + g) & M32, (H[8] + h) & M32
end

local Hasher = {}
Hasher.__index = Hasher

-- A new incremental hasher.
function M.new()
  return setmetatable({ H = table.move(INIT, 1, 8, 1, {}), buf = "", len = 0 }, Hasher)
end

-- Adds the bytes of string s; returns the hasher.
function Hasher:update(s)
  self.len = self.len + #s
  if #self.buf > 0 then
    local need = 64 - #self.buf
    if #s < need then
      self.buf = self.buf .. s
      return self
    end
    block(self.H, self.buf .. s:sub(1, need), 1)
    s = s:sub(need + 1)
    self.buf = ""
  end
  local n = #s - #s % 64
  for i = 1, n, 64 do block(self.H, s, i) end
  self.buf = s:sub(n + 1)
  return self
end

-- The 32-byte digest; the hasher is finished afterwards (further updates raise).
function Hasher:digest()
  if self.done then return self.done end
  local bits = self.len * 8
  local pad = "\128" .. string.rep("\0", (55 - self.len) % 64) .. string.pack(">I8", bits)
  local tail = self.buf .. pad
  for i = 1, #tail, 64 do block(self.H, tail, i) end
  self.done = string.pack(">I4I4I4I4I4I4I4I4", table.unpack(self.H))
  self.update = function() error("sha256: update after digest", 2) end
  return self.done
end

function Hasher:hex()
  return (self:digest():gsub(".", function(c) return string.format("%02x", c:byte()) end))
end

-- Hex digest of a string.
function M.hex(s) return M.new():update(s):hex() end

-- Hex digest of a file's bytes, read in 1 MiB chunks; nil, msg when it cannot be read.
function M.file(path)
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local h = M.new()
  while true do
    local chunk = f:read(1 << 20)
    if not chunk then break end
    h:update(chunk)
  end
  f:close()
  return h:hex()
end

return M
