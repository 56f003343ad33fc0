"""ScarceGAN model code shared by the preprocess, train and evaluate entry points."""
