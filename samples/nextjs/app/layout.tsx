import type { ReactNode } from 'react';

export const metadata = { title: 'Atmosphere × Next.js' };

export default function RootLayout({ children }: { children: ReactNode }): ReactNode {
  return (
    <html lang="en">
      <body
        style={{ fontFamily: 'system-ui, sans-serif', margin: 0, background: '#f6f7f9', color: '#1d2330' }}
      >
        {children}
      </body>
    </html>
  );
}
