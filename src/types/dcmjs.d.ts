// dcmjs ships no type declarations; the project wraps the parts it uses in typed modules.
declare module 'dcmjs';
