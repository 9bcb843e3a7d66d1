#pragma once
// Private: text someone else chose (a peer's topic or message, a card's
// capability, an agent frame's type) made safe to print on a terminal or in
// a log line: control characters (ESC, CR, BEL...), DEL and bytes that are
// not UTF-8 become visible escapes (\x1b, \r); newlines stay only if
// `multiline`, else "\n". Without this, a message could clear the screen,
// retitle the terminal, or print a line that looks like another inbox entry
// or log line.

#include <string>
#include <string_view>

namespace aqua {

std::string terminal_text(std::string_view s, bool multiline = false);

} // namespace aqua
